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
