"""journey.yaml: templates load, errors name the line and field, every field is documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from parcours.errors import ConfigError
from parcours.journey.model import (
    DEFAULT_TEMPLATE,
    JourneyModel,
    list_templates,
    load_model,
    load_template,
    parse_model,
    template_path,
    template_text,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "journey-model.md"
EVENTS = ("ad_impression ad_click social_view search page_view product_view review_read "
          "newsletter_signup email_open email_click compare add_to_cart checkout_start "
          "account_created payment purchase order_delivered delivery_problem support_contact "
          "complaint refund cancellation app_open loyalty_points repeat_purchase survey_answer "
          "review_posted referral_sent referral_signup social_share").split()

SMALL = """\
name: small
stages:
  - id: a
    labels: {fr: A, en: A}
  - id: b
    labels: {fr: B, en: B}
    kpis:
      - id: k
        labels: {fr: K, en: K}
        metric: nps
        target: 30
rules:
  - stage: b
    event: buy
path:
  order: [a, b]
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_model(text)
    return str(info.value)


# -- templates --------------------------------------------------------------------------
def test_templates_listed():
    assert list_templates() == ["aida-cinq", "cinq-etapes", "huit-etapes", "trois-phases"]
    assert DEFAULT_TEMPLATE == "cinq-etapes"
    assert load_template().stage_ids == ["awareness", "consideration", "purchase", "retention", "advocacy"]


@pytest.mark.parametrize("name", ["aida-cinq", "cinq-etapes", "huit-etapes", "trois-phases"])
def test_template_is_complete(name):
    m = load_model(template_path(name))
    assert m == parse_model(template_text(name)) and m.name == name
    assert m.labels.fr and m.labels.en
    for s in m.stages:
        assert s.labels.fr and s.labels.en and s.status and s.objective.fr and s.objective.en
        assert s.touchpoints and s.content and s.kpis and s.moments_of_truth and s.actions
        assert s.emotion is not None and s.emotion.label.fr and s.emotion.label.en
        lanes = s.backstage
        assert lanes.frontstage and lanes.backstage and lanes.support_processes and lanes.systems
        assert all(k.labels.fr and k.labels.en for k in s.kpis)
        assert all(a.fr and a.en for a in s.actions)
    assert 2 <= len(m.personas) <= 3 and all(p.description and p.segment for p in m.personas)
    assert m.path.order == m.stage_ids
    # the demo vocabulary reaches every stage; only generic views carry the stage forward
    matched = {e: m.match_rule({"event": e}) for e in EVENTS}
    assert set(matched.values()) - {None} == set(m.stage_ids)
    assert {e for e, s in matched.items() if s is None} == {"page_view", "email_open"}


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(ConfigError, match="available templates: aida-cinq, cinq-etapes"):
        template_path("sept-etapes")


def test_model_lookups():
    m = load_template("cinq-etapes")
    assert m.stage_index("purchase") == 2
    assert m.label("purchase", "en") == "Purchase" and m.label("purchase") == "Achat-Décision"
    assert m.window.days == 14
    assert m.match_rule({"event": "page_view", "touchpoint": "pricing"}) == "purchase"
    assert m.match_rule({"event": "page_view", "touchpoint": "home"}) is None
    assert [m.move_kind(a, b) for a, b in [(None, "purchase"), ("awareness", "consideration"),
            ("awareness", "purchase"), ("retention", "purchase"), ("purchase", "awareness")]] == \
        ["start", "forward", "skip", "allowed", "backward"]
    with pytest.raises(ConfigError, match="unknown stage 'nope'"):
        m.stage_index("nope")


def test_rules_first_match_and_property_conditions():
    m = parse_model(SMALL.replace("rules:\n", """rules:
  - stage: a
    event: [view, buy]
    channel: web
    properties: {plan: [pro, 2], vip: true}
"""))
    ok = {"event": "view", "channel": "web", "properties": '{"plan": "pro", "vip": true}'}
    assert m.match_rule(ok) == "a"
    assert m.match_rule({**ok, "properties": {"plan": 2, "vip": True}}) == "a"
    assert m.match_rule({**ok, "properties": {"plan": 2, "vip": "yes"}}) is None
    assert m.match_rule({**ok, "channel": "app"}) is None
    assert m.match_rule({**ok, "properties": None}) is None
    assert m.match_rule({"event": "buy"}) == "b"  # the first rule needs channel web


# -- errors: file, line, field -----------------------------------------------------------
def test_small_model_is_valid():
    assert parse_model(SMALL).stage_ids == ["a", "b"]


def test_syntax_error_names_the_line():
    msg = error_of(SMALL.replace("labels: {fr: B, en: B}", "labels: {fr: B, en: B"))
    assert re.match(r"journey\.yaml:\d+: YAML syntax error", msg)
    assert int(msg.split(":")[1]) in (6, 7)


def test_wrong_type_names_line_and_field():
    msg = error_of(SMALL.replace("target: 30", "target: a lot"))
    assert msg.startswith("journey.yaml:11: stages[1].kpis[0].target: Input should be a valid number")


def test_wrong_enum_and_range():
    text = SMALL.replace("target: 30", "target: 30\n        direction: up")
    assert error_of(text).startswith("journey.yaml:12: stages[1].kpis[0].direction:")
    text = SMALL.replace("    labels: {fr: A, en: A}\n",
                         "    labels: {fr: A, en: A}\n    emotion: {score: 2, label: {fr: x, en: y}}\n")
    assert error_of(text).startswith("journey.yaml:5: stages[0].emotion.score: Input should be less than")


def test_missing_field_names_the_mapping_line():
    assert error_of(SMALL.replace("labels: {fr: A, en: A}", "labels: {fr: A}")) == \
        "journey.yaml:4: stages[0].labels.en: Field required"


def test_unknown_stage_in_rule_and_path():
    assert error_of(SMALL.replace("    event: buy", "    event: buy\n  - stage: c")) == \
        "journey.yaml:15: rules[1].stage: unknown stage 'c' (stages: a, b)"
    msg = error_of(SMALL + "  allowed_moves: [{from: b, to: z}]\n")
    assert msg == "journey.yaml:17: path.allowed_moves[0].to: unknown stage 'z' (stages: a, b)"
    assert "path.order: stages missing from the order: b" in error_of(SMALL.replace("[a, b]", "[a]"))


def test_duplicate_stage_id():
    msg = error_of(SMALL.replace("- id: b", "- id: a"))
    assert msg.splitlines()[0] == "journey.yaml:5: stages[1].id: duplicate stage id 'a'"


def test_unknown_keys_top_level_and_nested():
    assert error_of(SMALL + "colour: blue\n") == \
        "journey.yaml:17: colour: Extra inputs are not permitted"
    assert error_of(SMALL.replace("metric: nps", "metric: nps\n        goal: 3")) == \
        "journey.yaml:11: stages[1].kpis[0].goal: Extra inputs are not permitted"


def test_empty_and_malformed_documents():
    assert "at least one stage" in error_of("name: x\nstages: []\n")
    assert error_of("- a\n- b\n").startswith("journey.yaml:1:")
    assert error_of("").startswith("journey.yaml:1:")
    assert "conversion_window" in error_of(SMALL + "conversion_window: two weeks\n")
    msg = error_of(SMALL.replace("event: buy", "event: {name: buy}"))
    assert msg == "journey.yaml:14: rules[0].event: Input should be a valid string or a valid list"


def test_load_model_names_the_file(tmp_path):
    f = tmp_path / "journey.yaml"
    f.write_text(SMALL.replace("target: 30", "target: x"), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{f}:11: stages[1].kpis[0].target")):
        load_model(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_model(tmp_path / "missing.yaml")


# -- documentation ----------------------------------------------------------------------
def model_fields(model: type[BaseModel], seen=None) -> set[str]:
    """Every field name (by its YAML spelling) of the model and the models nested in it."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for sub in _models_in(info.annotation):
            names |= model_fields(sub, seen)
    return names


def _models_in(tp) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def test_every_field_is_documented():
    doc = DOC.read_text(encoding="utf-8")
    english, _, french = doc.partition("## Français")
    fields = model_fields(JourneyModel)
    assert {"name", "stages", "kpis", "direction", "support_processes", "from", "segment"} <= fields
    for part in (english, french):
        missing = sorted(f for f in fields if f"`{f}`" not in part)
        assert not missing, f"undocumented journey.yaml fields: {missing}"


def test_exported_members():
    import parcours.journey as journey

    assert sorted(journey.__all__) == sorted([
        "DEFAULT_TEMPLATE", "JourneyModel", "load_model", "parse_model", "load_template",
        "list_templates", "template_path", "template_text", "refresh", "RefreshStats",
        "timeline", "CustomerTimeline"])
    assert all(hasattr(journey, name) for name in journey.__all__)
