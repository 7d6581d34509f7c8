"""Every text people read exists in French and English, with the same blanks to fill."""

from __future__ import annotations

import string

import pytest
from typer.testing import CliRunner

from parcours.cli import app
from parcours.i18n import MESSAGES, lang_of, t, translate
from parcours.render.labels import LABELS
from parcours.web.page_labels import WORDS

CATALOGUES = {"cli": MESSAGES, "render": LABELS, "web": WORDS}


def blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_entry_is_in_both_languages_with_the_same_blanks(name):
    catalogue = CATALOGUES[name]
    assert catalogue
    for key, entry in catalogue.items():
        assert set(entry) == {"fr", "en"}, (name, key)
        assert entry["fr"].strip() and entry["en"].strip(), (name, key)
        assert blanks(entry["fr"]) == blanks(entry["en"]), (name, key)


def test_translate_picks_the_language_then_english_then_the_environment(monkeypatch):
    catalogue = {"k": {"fr": "{n} personnes", "en": "{n} people"}, "only": {"en": "English only"}}
    assert translate(catalogue, "k", "fr", n=3) == "3 personnes"
    assert translate(catalogue, "k", "en", n=3) == "3 people"
    assert translate(catalogue, "only", "fr") == "English only"
    monkeypatch.setenv("PARCOURS_LANG", "en")
    assert translate(catalogue, "k", None, n=1) == "1 people"
    assert t("rejects.none") == "No rejected rows."
    monkeypatch.setenv("PARCOURS_LANG", "de_DE")
    assert t("rejects.none") == "Aucune ligne rejetée."
    assert lang_of("en") == "en" and lang_of("de") == "fr" and lang_of(None, "en") == "en"


def test_the_cli_refuses_a_language_it_does_not_speak(tmp_path):
    res = CliRunner().invoke(app, ["rejects", str(tmp_path), "--lang", "de"])
    assert res.exit_code == 2
    assert "fr or en" in res.output


@pytest.mark.parametrize("module", ["parcours.i18n", "parcours.render.labels", "parcours.web.page_labels",
                                    "parcours.cli_help"])
def test_no_key_is_written_twice(module):
    """A repeated key in a dict literal silently keeps the last text: read the source itself."""
    import ast
    import importlib

    source = importlib.import_module(module).__file__
    tree = ast.parse(open(source, encoding="utf-8").read())
    dicts = [node.value for node in ast.walk(tree)
             if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict)]
    assert dicts
    for d in dicts:
        keys = [k.value for k in d.keys if isinstance(k, ast.Constant)]
        assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})


def english_help() -> list[str]:
    """Every help text of the command tree, as Typer builds it from the code (in English)."""
    import typer

    from parcours.cli_help import help_slots

    return [getattr(holder, attr) for holder, attr in help_slots(typer.main.get_command(app))]


def marks(text: str) -> list[str]:
    """What a translation must keep as is: options, `code`, [markup], escaped brackets, blanks."""
    import re

    return sorted(re.findall(r"--[\w-]+|`[^`]+`|\[/?[a-z ]+\]|\\\[|\{\w*\}", text))


def test_every_help_text_of_the_cli_has_its_french_and_no_french_is_left_over():
    from parcours.cli_help import FR

    texts = set(english_help())
    assert len(texts) > 150
    assert sorted(texts - set(FR)) == []
    assert sorted(set(FR) - texts) == []
    for english, french in FR.items():
        assert french.strip() and french != english, english
        assert marks(french) == marks(english), english


@pytest.mark.parametrize("lang, phrase, other", [
    ("fr", "Fenêtre de conversion depuis l'événement", "Conversion window from the step-1 event"),
    ("en", "Conversion window from the step-1 event", "Fenêtre de conversion depuis l'événement"),
])
def test_the_console_script_gives_its_help_in_the_language_of_parcours_lang(lang, phrase, other):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("parcours")
    env = {**os.environ, "PARCOURS_LANG": lang, "COLUMNS": "200"}
    proc = subprocess.run([str(exe), "funnel", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert phrase in proc.stdout and other not in proc.stdout
    assert ("Commandes" if lang == "fr" else "Commands") in subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=60, env=env).stdout
    missing = subprocess.run([str(exe), "funnel"], capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode == 2


def test_help_in_french_then_english_in_one_process_is_english_again(monkeypatch):
    """Typer's own words (panel titles, [required]) are module globals: French must not stay behind."""
    runner = CliRunner()
    monkeypatch.setenv("PARCOURS_LANG", "fr")
    french = runner.invoke(app, ["funnel", "--help"]).output
    assert "Fenêtre de conversion depuis l'événement" in french and "[obligatoire]" in french
    monkeypatch.setenv("PARCOURS_LANG", "en")
    english = runner.invoke(app, ["funnel", "--help"]).output
    assert "Conversion window from the step-1 event" in english and "[required]" in english
    assert "obligatoire" not in english
    assert "Commands" in runner.invoke(app, ["--help"]).output
