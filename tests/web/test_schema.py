"""schemathesis against a running server's /openapi.json: no 5xx, and every answer conforms to
the schema (status codes, content types, headers, bodies); schema-violating requests refused.

Two runs: the query API with a read key, ingestion with a write key (the dashboard's pages and
surveys, mounted on the same app, are left to their own tests). The check
``positive_data_acceptance`` is left out: a schema cannot say every semantic rule (a step
naming an exclusion that does not exist, an unknown customer id), and those answer 400.
``PARCOURS_SCHEMATHESIS_FULL=1`` adds the coverage phase (boundary values, about 90 s more).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Live, new_workspace
from .test_query import _messages

INGESTION = "^/v1/(track|page|screen|identify|group|alias|batch)$"
#: the query API and the server's own routes; the dashboard's pages and surveys (web/dashboard.py)
#: are not part of this run.
QUERY = "^/(api/v1/.*|v1/refresh|health)$"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path, write, read = new_workspace(tmp_path_factory.mktemp("schema") / "ws")
    live = Live(path, write, read, "--refresh-every", "0").start()
    with live.writer() as c:
        assert c.post("/v1/batch", json={"batch": _messages(customers=40)}).status_code == 200
    with live.reader() as c:
        assert c.post("/v1/refresh").status_code == 200
    yield live
    live.kill()


def _schemathesis(server: Live, key: str, *filters: str) -> subprocess.CompletedProcess:
    """The schemathesis command line on the server; it keeps its state in a .schemathesis
    folder of its working directory, so it runs in the workspace's."""
    phases = "examples,coverage,fuzzing,stateful" if os.environ.get("PARCOURS_SCHEMATHESIS_FULL") else \
        "examples,fuzzing,stateful"
    cli = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [str(cli), "run", server.url + "/openapi.json", "-H", f"Authorization: Bearer {key}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--phases", phases,
         "--max-examples", "5", "--workers", "1", "--request-timeout", "120", "--max-response-time", "120", "--seed", "1", *filters],
        capture_output=True, text=True, timeout=600, cwd=server.path,
    )


@pytest.mark.slow
def test_query_api_conforms_to_its_schema(server):
    run = _schemathesis(server, server.read_key, "--include-path-regex", QUERY)
    assert run.returncode == 0, run.stdout[-6000:]
    assert " passed" in run.stdout


@pytest.mark.slow
def test_ingestion_conforms_to_its_schema(server):
    run = _schemathesis(server, server.write_key, "--include-path-regex", INGESTION)
    assert run.returncode == 0, run.stdout[-6000:]
    assert " passed" in run.stdout
