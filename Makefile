# The two set-up commands of the README: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-others-venv bench-others clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 not found; set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/parcours demo demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# retentioneering and PM4Py, for bench/bench_others.py: a venv of their own (.venv-others).
OTHERS_VENV ?= .venv-others
OTHERS_STAMP := $(OTHERS_VENV)/.installed

$(OTHERS_STAMP): bench/requirements-others.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 not found; set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(OTHERS_VENV)
	$(OTHERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OTHERS_VENV)/bin/python -m pip install --quiet -r bench/requirements-others.txt
	@touch $(OTHERS_STAMP)

bench-others-venv: $(OTHERS_STAMP)

bench-others: $(STAMP) $(OTHERS_STAMP)
	$(OTHERS_VENV)/bin/python bench/bench_others.py --people 470000 --runs 3

clean:
	rm -rf $(VENV) demo bench/out
