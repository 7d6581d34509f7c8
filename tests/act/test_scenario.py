"""Scenario files: every built-in template is valid; mistakes name the file, line and field."""

from __future__ import annotations

import pytest

from parcours.act.scenario import add_template, list_templates, load_scenarios, parse_scenario, template_text
from parcours.act.settings import load_settings
from parcours.errors import ConfigError

GOOD = """\
name: cart
entry:
  event: {event: add_to_cart}
goal:
  event: {event: purchase}
steps:
  - wait: 1h
  - action:
      kind: email
      message:
        subject: {fr: "Bonjour {first_name}", en: "Hello {first_name}"}
        body: {fr: "Votre panier", en: "Your cart"}
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_scenario(text, source="scenarios/cart.yaml")
    return str(exc.value)


def test_builtin_templates_are_valid():
    names = list_templates()
    assert {"abandoned-cart", "thank-you", "survey-after-delivery", "detractor-follow-up", "win-back",
            "loyalty-points", "loyalty-tier-upgrade", "referral-invitation"} <= set(names)
    for n in names:
        sc = parse_scenario(template_text(n), source=n)
        assert sc.name == n


def test_a_good_scenario():
    sc = parse_scenario(GOOD)
    assert sc.entry.kind == "event" and sc.entry.reentry == "after_exit"
    assert sc.step_ids() == ["step1", "step2"] and sc.holdout == 0.1
    assert sc.steps[0].wait.delay == "1h"


@pytest.mark.parametrize("old, new, expected", [
    ("  - wait: 1h", "  - wait: 1 hour", "scenarios/cart.yaml:7: steps[0].wait: expected a duration"),
    ("kind: email", "kind: fax", "scenarios/cart.yaml:9: steps[1].action.kind: Input should be"),
    ("  event: {event: add_to_cart}", "  event: {event: add_to_cart}\n  inactivity: 30d",
     "scenarios/cart.yaml:3: entry: an entry needs exactly one of"),
    ("        subject: {fr: \"Bonjour {first_name}\", en: \"Hello {first_name}\"}\n", "",
     "steps[1].action: an e-mail needs a subject"),
    ("name: cart", "name: cart\ncolour: red", "scenarios/cart.yaml:2: colour: Extra inputs are not permitted"),
    ("  - wait: 1h", "  - wait: 1h\n    goto: nowhere", "scenarios/cart.yaml:8: steps[0].goto: unknown step 'nowhere'"),
    ("\"Hello {first_name}\"", "\"Hello {first name}\"", "invalid placeholder {first name}"),
    ("  - wait: 1h", "  - wait: {until: {event: purchase}}", "waiting until an event needs a timeout"),
    ("  - wait: 1h", "  - wait: {window: \"09:00-09:00\"}", "steps[0].wait.window: the range starts and ends"),
])
def test_errors_name_file_line_and_field(old, new, expected):
    assert old in GOOD
    assert expected in error_of(GOOD.replace(old, new, 1))


def test_yaml_syntax_error_has_a_line():
    assert error_of("name: [cart\n").startswith("scenarios/cart.yaml:2: YAML syntax error")


def test_random_split_needs_distinct_variants():
    text = GOOD.replace("  - wait: 1h", "  - random: [{name: A, weight: 1}, {name: A, weight: 1}]")
    assert "two or more variants with distinct names" in error_of(text)


def test_workspace_scenarios_and_duplicates(tmp_path):
    add_template(tmp_path, "abandoned-cart")
    with pytest.raises(ConfigError, match="already exists"):
        add_template(tmp_path, "abandoned-cart")
    with pytest.raises(ConfigError, match="unknown scenario template 'nope'; available: abandoned-cart"):
        add_template(tmp_path, "nope")
    (tmp_path / "scenarios" / "copy.yaml").write_text(template_text("abandoned-cart"))
    with pytest.raises(ConfigError, match="copy.yaml:1: name: scenario 'abandoned-cart' is already declared"):
        load_scenarios(tmp_path)


def test_settings_errors(tmp_path):
    (tmp_path / "act.yaml").write_text("guards:\n  quiet_hours: 21h-8h\n")
    with pytest.raises(ConfigError, match=r"act.yaml:2: guards.quiet_hours: .*09:00-20:00"):
        load_settings(tmp_path)
    (tmp_path / "act.yaml").write_text("default_timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        load_settings(tmp_path)
    (tmp_path / "act.yaml").unlink()
    assert load_settings(tmp_path).guards.control_group == 0


def test_check_across_files(tmp_path):
    from typer.testing import CliRunner

    from parcours.cli import app
    from parcours.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    ws = tmp_path / "ws"
    add_template(ws, "abandoned-cart")
    (ws / "scenarios" / "stage.yaml").write_text(GOOD.replace("name: cart", "name: stage").replace(
        "  event: {event: add_to_cart}", "  stage: {enter: nirvana}"))
    (ws / "scenarios" / "sms.yaml").write_text(
        "name: sms\nentry: {segment: {enter: vips}}\nsteps:\n  - id: text\n    action: {kind: sms, message: {body: {fr: a, en: a}}}\n")
    runner = CliRunner()
    res = runner.invoke(app, ["scenario", "check", str(ws), "--lang", "en"])
    assert res.exit_code == 2
    assert "scenarios: stage: entry.stage: unknown stage 'nirvana' (journey.yaml stages: awareness" in res.output
    (ws / "scenarios" / "stage.yaml").unlink()
    res = runner.invoke(app, ["scenario", "check", str(ws), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "3 valid scenario(s)" not in res.output and "2 valid scenario(s): abandoned-cart, sms" in res.output
    assert "scenarios: sms: entry.segment: no saved segment 'vips' yet" in res.output
    assert "steps.text: messages on 'sms' wait in the outbox" in res.output
    assert "steps.reminder-1h: e-mails wait in the outbox: act.yaml has no smtp" in res.output
