"""`parcours feedback` end to end: a real workspace, imported files, real numbers."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from parcours.cli import app

runner = CliRunner()


def run(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


@pytest.fixture
def ws(tmp_path):
    d = tmp_path / "ws"
    run("init", d, "--lang", "en")
    (tmp_path / "e.csv").write_text(
        "customer_id,timestamp,event,channel\n"
        "c1,2024-01-01T09:00:00Z,ad_click,search\n"
        "c1,2024-01-05T09:00:00Z,purchase,web\n"
        "c2,2024-01-02T09:00:00Z,ad_click,social\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text('customer_id,attributes\nc1,"{""segment"": ""vip""}"\n'
                                    'c2,"{""segment"": ""new""}"\n', encoding="utf-8")
    (tmp_path / "f.csv").write_text(
        "customer_id,timestamp,kind,score,text,language,channel,touchpoint\n"
        "c1,2024-01-03T10:00:00Z,nps,10,,,email,delivery\n"
        'c1,2024-01-06T10:00:00Z,nps,3,"Livraison en retard, très déçu",fr,email,delivery\n'
        "c2,2024-01-03T10:00:00Z,nps,9,,,web,checkout\n"
        "c2,2024-01-10T10:00:00Z,csat,4,,,web,support\n"
        "c2,2024-01-10T11:00:00Z,csat,2,Support was rude and useless,en,web,support\n"
        "c3,2024-02-01T10:00:00Z,ces,2,,,store,store\n", encoding="utf-8")
    run("import", d, tmp_path / "e.csv")
    run("import", d, tmp_path / "c.csv", "--kind", "customers")
    run("import", d, tmp_path / "f.csv", "--kind", "feedback")
    run("refresh", d)
    return d


def test_feedback_json_overall(ws):
    out = json.loads(run("feedback", ws, "--json").output)
    nps = out["overall"]["nps"]
    # promoters 10 and 9, detractor 3: NPS = 100 × (2 − 1) / 3, variance (2/3 + 1/3 − 1/9) / 3
    half = 1.959963984540054 * math.sqrt((1 - 1 / 9) / 3)
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (3, 2, 1)
    assert nps["score"] == pytest.approx(100 / 3)
    assert nps["ci_low"] == pytest.approx(100 * (1 / 3 - half)) and nps["ci_high"] == 100.0
    assert out["overall"]["csat"]["score"] == 50.0 and out["overall"]["csat"]["mean"] == 3.0
    assert out["overall"]["ces"]["mean"] == 2.0
    v = out["verbatims"]
    assert (v["n"], v["negative"]) == (2, 2)
    assert {t["theme"] for t in v["themes"]} == {"delivery", "support"}


def test_feedback_by_stage_segment_and_period(ws):
    by_stage = json.loads(run("feedback", ws, "--by", "stage", "--json").output)["groups"]
    nps = {g["group"]: g["nps"]["n"] for g in by_stage}
    assert nps == {"awareness": 2, "purchase": 1, None: 0}  # c3 has no journey
    assert {g["group"]: g["emotion"]["answers"] for g in by_stage}["purchase"] == 2  # NPS 3 and its text
    seg = {g["group"]: g for g in json.loads(run("feedback", ws, "--by", "segment", "--json").output)["groups"]}
    assert seg["vip"]["nps"]["score"] == 0.0 and seg["new"]["csat"]["n"] == 2
    out = json.loads(run("feedback", ws, "--period", "month", "--since", "2024-01-04", "--no-text", "--json").output)
    assert [(t["period"], t["counts"]) for t in out["trend"]] == [
        ("2024-01-01", {"csat": 2, "nps": 1}), ("2024-02-01", {"ces": 1})]
    assert out["verbatims"] is None and "text" not in out["overall"]


def test_feedback_human_output_in_both_languages(ws):
    en = run("feedback", ws, "--by", "touchpoint", "--period", "week", "--lang", "en").output
    assert "Satisfaction: NPS, CSAT, CES and emotion" in en and "NPS 95% CI" in en
    assert "33.3 (n=3)" in en and "[-73.4, 100.0]" in en and "Trend per period" in en and "Verbatim themes" in en
    assert "2 texts, 2 negative" in en and "Delivery" in en
    fr = run("feedback", ws, "--lang", "fr").output
    assert "Satisfaction : NPS, CSAT, CES et émotion" in fr and "IC 95 % du NPS" in fr
    assert "Thèmes des verbatims" in fr and "Livraison" in fr and "Service client" in fr
    assert "33,3 (n=3)" in fr and "[-73,4 ; 100,0]" in fr and "33.3" not in fr
    empty = run("feedback", ws, "--since", "2030-01-01", "--lang", "en").output
    assert "No answers in the range." in empty


def test_feedback_errors(ws):
    assert "period" in run("feedback", ws, "--period", "year", code=4).output
    assert "attribute" in run("feedback", ws, "--by", "attributes.", code=4).output
