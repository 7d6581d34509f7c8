"""Documentation that must not drift from the code: every table column and CLI command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parcours.data.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("table", list(TABLES.values()), ids=lambda t: t.name)
def test_every_column_is_documented(table):
    text = (DOCS / "data-model.md").read_text(encoding="utf-8")
    section = text.split(f"## `{table.name}`", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    assert documented == set(table.names)
    for col in table.columns:
        assert col.doc_en and col.doc_fr, f"{table.name}.{col.name} needs both descriptions"


@pytest.mark.parametrize("command", ["map", "report"])
def test_map_and_report_options_are_documented(command):
    """Every option of `parcours map` and `parcours report` is shown in docs/map.md, in the
    English section and in the French one."""
    import typer.main

    from parcours.cli import app

    cmd = typer.main.get_command(app).commands[command]
    english, french = (DOCS / "map.md").read_text(encoding="utf-8").split("\n## Français", 1)
    options = [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]
    assert "--out" in options
    for part in (english, french):
        assert f"parcours {command}" in part
        assert [o for o in options if o not in part] == []


@pytest.mark.parametrize("command", ["painpoints", "moments"])
def test_painpoints_and_moments_options_are_documented(command):
    """Every option of `parcours painpoints` and `parcours moments` is in docs/painpoints.md,
    English and French sections."""
    import typer.main

    from parcours.cli import app

    cmd = typer.main.get_command(app).commands[command]
    english, french = (DOCS / "painpoints.md").read_text(encoding="utf-8").split("\n## Français", 1)
    options = [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]
    for part in (english, french):
        assert f"parcours {command}" in part
        assert [o for o in options if o not in part] == []


def test_feedback_options_are_documented():
    """Every option of `parcours feedback` is in docs/feedback.md, English and French sections."""
    import typer.main

    from parcours.cli import app

    cmd = typer.main.get_command(app).commands["feedback"]
    english, french = (DOCS / "feedback.md").read_text(encoding="utf-8").split("\n## Français", 1)
    options = [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]
    assert {"--by", "--since", "--until", "--period", "--json", "--lang"} <= set(options)
    for part in (english, french):
        assert "parcours feedback" in part
        assert [o for o in options if o not in part] == []


@pytest.mark.parametrize("command", ["serve", "key add", "key list", "key revoke"])
def test_serve_and_key_options_are_documented(command):
    """Every option of `parcours serve` and `parcours key ...` is in docs/api.md, English and
    French sections."""
    import typer.main

    from parcours.cli import app

    cmd = typer.main.get_command(app)
    for word in command.split():
        cmd = cmd.commands[word]
    english, french = (DOCS / "api.md").read_text(encoding="utf-8").split("\n## Français", 1)
    options = [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]
    for part in (english, french):
        assert f"parcours {command}" in part
        assert [o for o in options if o not in part] == []


def test_every_api_route_is_documented(tmp_path):
    """Every ingestion and query path of the HTTP API (its analyses included) is in docs/api.md,
    English and French."""
    from parcours.web.app import create_app
    from parcours.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    app = create_app(tmp_path / "ws")
    try:
        paths = [p for p, ops in app.openapi()["paths"].items()
                 if {"ingestion", "query"} & {t for op in ops.values() for t in op.get("tags", [])}]
    finally:
        app.state.server.close()
    english, french = (DOCS / "api.md").read_text(encoding="utf-8").split("\n## Français", 1)
    for part in (english, french):
        missing = [p for p in paths if p not in part and p.replace("{customer_id}", "{id}") not in part
                   and not (p.startswith("/v1/") and p.removeprefix("/v1/") in part)]
        assert missing == []


@pytest.mark.parametrize("command", ["add", "list"])
def test_user_commands_are_documented(command):
    """Every option of `parcours user add|list` is in docs/dashboard.md, English and French sections."""
    import typer.main

    from parcours.cli import app

    cmd = typer.main.get_command(app).commands["user"].commands[command]
    english, french = (DOCS / "dashboard.md").read_text(encoding="utf-8").split("\n## Français", 1)
    options = [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]
    for part in (english, french):
        assert f"parcours user {command}" in part
        assert [o for o in options if o not in part] == []
