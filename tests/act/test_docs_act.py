"""docs/orchestration.md must not drift: commands and options, templates, settings, actions."""

from __future__ import annotations

import typer.main
from pathlib import Path

from parcours.act.scenario import Action, Entry, StepSpec, list_templates
from parcours.act.settings import Guards, Settings
from parcours.cli import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "orchestration.md").read_text(encoding="utf-8")
EN, FR = DOC.split("## Français", 1)


def _commands():
    group = typer.main.get_command(app)
    for name in ("run", "simulate", "lift"):
        yield name, group.commands[name]
    for name, cmd in group.commands["scenario"].commands.items():
        yield f"scenario {name}", cmd


def test_every_act_command_and_option_is_documented_in_both_languages():
    for name, cmd in _commands():
        assert f"parcours {name} " in EN and f"parcours {name} " in FR, name
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("--") and opt not in ("--lang", "--help"):
                    assert opt in EN, f"{name} {opt}"


def test_templates_settings_entries_and_actions_are_documented():
    for n in list_templates():
        assert f"`{n}`" in EN and f"`{n}`" in FR, n
    for field in list(Settings.model_fields) + list(Guards.model_fields):
        assert f"{field}:" in EN, field
    for kind in ("event", "stage", "segment", "inactivity", "date", "feedback", "api", "where", "reentry"):
        assert kind in Entry.model_fields and f"`{kind}" in EN, kind
    for kind in Action.model_fields["kind"].annotation.__args__:
        assert f"`{kind}`" in EN and f"`{kind}`" in FR, kind
    for kind in ("wait", "split", "random", "action", "end", "goto"):
        assert kind in StepSpec.model_fields and f"`{kind}" in EN and f"`{kind}" in FR, kind
