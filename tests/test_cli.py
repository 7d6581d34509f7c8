"""The `parcours` command end to end: real workspace, real store, real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcours.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr if hasattr(result, "stderr") else "")
    return result


@pytest.fixture
def ws(tmp_path) -> Path:
    d = tmp_path / "ws"
    run("init", d, "--lang", "en")
    return d


def test_init_creates_store_and_model(tmp_path):
    d = tmp_path / "shop"
    out = run("init", d, "--template", "trois-phases", "--lang", "fr").output
    assert "Espace de travail créé" in out
    assert (d / "parcours.duckdb").exists()
    assert "trois" in (d / "journey.yaml").read_text(encoding="utf-8").lower()
    # a second init refuses to overwrite; an unknown template is a configuration error (exit 2)
    assert run("init", d, code=2).exit_code == 2
    assert "cinq-etapes" in run("init", tmp_path / "other", "--template", "nope", code=2).output


def test_import_json_summary_and_rejects(ws, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("customer_id,timestamp,event\nc1,2024-01-01T10:00:00Z,page_view\n"
                 "c2,later,purchase\n,2024-01-01,page_view\n", encoding="utf-8")
    g = tmp_path / "f.csv"
    g.write_text("customer_id,timestamp,kind,score\nc1,2024-01-02,nps,10\n", encoding="utf-8")
    out = run("import", ws, f, "--json").output
    assert json.loads(out) == {"imported": 1, "rejected": 2, "duplicates": 0}
    out = run("import", ws, f, "--json").output
    assert json.loads(out) == {"imported": 0, "rejected": 2, "duplicates": 1}
    assert json.loads(run("import", ws, g, "--kind", "feedback", "--json").output) == {
        "imported": 1, "rejected": 0, "duplicates": 0}
    rejects = json.loads(run("rejects", ws, "--json").output)["rejects"]
    assert [(r["row"], r["column"]) for r in rejects if r["import_id"] == 1] == [
        (3, "timestamp"), (4, "customer_id|anonymous_id")]
    human = run("import", ws, f, "--lang", "en").output
    assert "0 rows imported, 2 rejected, 1 duplicates skipped." in human
    assert "parcours rejects" in human


def test_rejects_to_csv(ws, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("customer_id,timestamp,event\nc1,never,a\n", encoding="utf-8")
    run("import", ws, f)
    out = tmp_path / "rejects.csv"
    run("rejects", ws, "--out", out)
    assert "unparseable timestamp: never" in out.read_text(encoding="utf-8")


def test_errors_have_clear_messages_and_exit_codes(tmp_path, ws):
    assert "not a workspace" in run("import", tmp_path / "none", tmp_path / "x.csv", code=2).output
    assert "no such file" in run("import", ws, tmp_path / "missing.csv", code=3).output
    assert "unknown kind" in run("import", ws, tmp_path / "x.csv", "--kind", "orders", code=2).output
    assert "SOURCE=TARGET" in run("import", ws, tmp_path / "x.csv", "--map", "oops", code=2).output


def test_console_script_runs(tmp_path):
    exe = Path(sys.executable).with_name("parcours")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("init", "import", "rejects", "journey", "refresh", "demo"):
        assert command in proc.stdout


def test_journey_funnel_and_paths_commands(ws, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text(
        "customer_id,anonymous_id,timestamp,event,channel\n"
        ",a1,2024-01-01T09:00:00Z,ad_click,search\n"
        "c1,a1,2024-01-01T09:05:00Z,product_view,web\n"
        "c1,,2024-01-01T09:10:00Z,add_to_cart,web\n"
        "c1,,2024-01-02T10:00:00Z,purchase,store\n"
        "c2,,2024-01-01T09:00:00Z,ad_click,social\n"
        "c2,,2024-01-01T09:30:00Z,add_to_cart,web\n"
        "c3,,2024-01-01T09:00:00Z,ad_click,social\n", encoding="utf-8")
    run("import", ws, f)
    timeline = json.loads(run("journey", ws, "a1", "--json").output)
    assert timeline["person_id"] == "c1"
    assert [e["event"] for e in timeline["events"]] == ["ad_click", "product_view", "add_to_cart", "purchase"]
    assert [s["stage"] for s in timeline["stages"]] == ["awareness", "consideration", "purchase"]
    result = json.loads(run("funnel", ws, "--step", "ad_click", "--step", "add_to_cart",
                            "--step", "purchase[channel=store]", "--json").output)
    assert [(s["name"], s["count"]) for s in result["steps"]] == [
        ("ad_click", 3), ("add_to_cart", 2), ("purchase [channel=store]", 1)]
    assert result["steps"][1]["conversion_from_previous"] == pytest.approx(2 / 3)
    steps = ["--step", "ad_click", "--step", "add_to_cart"]
    trends = json.loads(run("funnel", ws, *steps, "--over", "day", "--json").output)
    assert trends["period"] == "day"
    assert [(p["period"], [s["count"] for s in p["steps"]]) for p in trends["periods"]] == [("2024-01-01", [3, 2])]
    dropped = json.loads(run("funnel", ws, *steps, "--people", "0", "--dropped", "--json").output)
    assert (dropped["total"], [p["id"] for p in dropped["people"]]) == (1, ["c3"])
    reached = json.loads(run("funnel", ws, *steps, "--people", "1", "--limit", "1", "--json").output)
    assert reached["total"] == 2 and [p["furthest_step"] for p in reached["people"]] == [1]
    human = run("funnel", ws, *steps, "--people", "1", "--limit", "1", "--lang", "en").output
    assert "2 customers reached step 1 (add_to_cart); 1 listed" in human
    assert reached["people"][0]["id"] in human
    assert "1 clients ont abandonné après l'étape 0 (ad_click)" in run(
        "funnel", ws, *steps, "--people", "0", "--dropped", "--lang", "fr").output
    assert "one of them" in run("funnel", ws, *steps, "--over", "week", "--by", "channel", code=2).output
    # the same funnel for people: headers and numbers in the reader's language, nothing cut
    fr = run("funnel", ws, *steps, "--lang", "fr").output
    en = run("funnel", ws, *steps, "--lang", "en").output
    assert "66,7\u202f%" in fr and "nombre" in fr and "0.667" not in fr
    assert "66.7%" in en and "count" in en and "nombre" not in en
    store = run("funnel", ws, "--step", "ad_click", "--step", "purchase[channel=store]", "--lang", "en").output
    assert "purchase [channel=store]" in store and "33.3%" in store
    kpis = run("kpis", ws, "--lang", "en").output
    assert "conversion to" in kpis and "backward" in kpis
    transitions = json.loads(run("paths", ws, "--by", "event", "--json").output)["transitions"]
    assert {"from": "ad_click", "to": "add_to_cart", "count": 1, "customers": 1} in transitions
    by_stage = json.loads(run("paths", ws, "--by", "stage", "--json").output)
    human = run("paths", ws, "--by", "stage", "--lang", "en").output
    assert "Most common path variants" in human and "Backward moves" not in human  # none in these journeys
    labels = {"awareness": "Awareness", "consideration": "Consideration", "purchase": "Purchase"}
    assert " → ".join(labels[i] for i in by_stage["variants"][0]["path"]) in human  # stages by their labels
    stages_fr = run("funnel", ws, "--stages", "--lang", "fr").output
    assert "Sensibilisation" in stages_fr and "awareness" not in stages_fr
    assert not by_stage["backward_moves"]
    assert "unknown journey" not in run("journey", ws, "nobody", code=4).output


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_generated_files_import_as_they_are(tmp_path, fmt):
    out = tmp_path / "gen"
    made = json.loads(run("generate", out, "--customers", "300", "--seed", "7", "--format", fmt, "--json").output)
    ws = tmp_path / "ws"
    run("init", ws)
    for kind in ("customers", "events", "feedback", "spend"):
        got = json.loads(run("import", ws, out / f"{kind}.{fmt}", "--kind", kind, "--json").output)
        assert got["rejected"] == 0, kind
        assert got["imported"] == made[kind], kind
    retention = json.loads(run("retention", ws, "--period", "month", "--json").output)
    assert retention["purchasers"] > 0
    human = run("retention", ws, "--period", "month", "--lang", "en").output
    assert f"({retention['repeat_purchasers']:,} of {retention['purchasers']:,} purchasers" in human
    first = retention["cohorts"][0]
    assert re.search(rf"{first['cohort']}\s*│\s*{first['size']}\s*│\s*100%", human)
    assert "Lifecycle per period" in human and "resurrecting" in human


def test_kpis_command(ws, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("customer_id,timestamp,event,channel\n"
                 "c1,2024-01-01T09:00:00Z,ad_click,search\nc1,2024-01-01T10:00:00Z,product_view,web\n"
                 "c2,2024-01-01T09:00:00Z,ad_click,social\n", encoding="utf-8")
    run("import", ws, f)
    stages = json.loads(run("kpis", ws, "--json").output)["stages"]
    assert [s["stage"] for s in stages] == ["awareness", "consideration", "purchase", "retention", "advocacy"]
    assert (stages[0]["reach"], stages[1]["reach"]) == (2, 1)
    assert stages[0]["conversion"] == pytest.approx(0.5)
    # for people, with --by: each group's reach and conversion per stage, as the JSON has them
    by = json.loads(run("kpis", ws, "--by", "channel", "--json").output)["breakdown"]
    search = next(g for g in by if g["group"] == "search")
    assert (search["stages"][0]["reach"], search["stages"][0]["conversion"]) == (1, 1.0)
    human = run("kpis", ws, "--by", "channel", "--lang", "en").output
    assert "By channel: reach, conversion and median time per stage" in human
    assert re.search(r"search\s*│\s*customers\s*│\s*1\s*│", human)
    assert re.search(r"│\s*conversion\s*│\s*100\.0%\s*│", human)
    assert re.search(r"social\s*│\s*customers\s*│\s*1\s*│", human)
