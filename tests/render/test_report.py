"""The manager's report on a generated workspace: each section equals its analysis, the page
fits a laptop screen in headless Chromium, a section without data shows a note; and the
`parcours map` / `parcours report` commands end to end."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from parcours.analysis.feedback import feedback
from parcours.analysis.funnel import funnel
from parcours.cli import app
from parcours.data.store import Store
from parcours.journey.model import load_template
from parcours.render.report import SECTIONS, build_report, write_report

from .render_support import T0, build, check_layout

runner = CliRunner()


@pytest.fixture(scope="module")
def report(demo_ws):
    return build_report(demo_ws.store, demo_ws.model, lang="fr")


def test_every_section_is_computed_by_its_analysis(demo_ws, report):
    assert list(report.sections) == list(SECTIONS)
    assert {k: v.get("error") for k, v in report.sections.items() if "error" in (v or {})} == {}
    model = demo_ws.model
    direct = funnel(demo_ws.store, model.path_order, window=model.window, stages=True).to_dict()["steps"]
    assert [s["count"] for s in report.sections["funnel"]["steps"]] == [s["count"] for s in direct]
    fb = feedback(demo_ws.store).overall
    summary = report.sections["summary"]
    assert summary["nps"] == fb["nps"]["score"] and summary["csat"] == fb["csat"]["score"]
    assert summary["people"] == report.journey_map.customers > 0
    assert summary["conversion"] == direct[-1]["conversion_from_first"]
    pains = report.sections["pain_points"]["items"]
    assert summary["top_pain_points"] == [p["title"] for p in pains[:3]]
    assert [p["rank"] for p in pains] == list(range(1, len(pains) + 1))
    assert report.sections["cac"]["total"]["new_customers"] > 0
    assert report.sections["clv"]["customers"] > 0
    json.dumps(report.to_dict(), default=str)  # the JSON form is complete


def test_report_fits_a_laptop_screen(report, browser, tmp_path_factory, tmp_path):
    shots = tmp_path_factory.mktemp("report-screenshots")
    html = write_report(report, tmp_path / "report.html", source="demo")
    text = html.read_text(encoding="utf-8")
    assert "Santé du parcours" in text and "temps médian dans" in text and "effet de retrait" in text
    layout = check_layout(browser, html, shots, "report", stages=5)
    ids = {c["id"] for c in layout["charts"]}
    assert {"report-funnel", "report-paths", "report-feedback", "sec-map-sankey"} <= ids


def test_sections_without_data_show_a_note(tmp_path):
    """Events only: no feedback, no spend, too few buyers for CLV; the page still renders."""
    model = load_template("cinq-etapes")
    events = [{"customer_id": c, "timestamp": T0 + dt.timedelta(hours=h), "event": e, "channel": "web"}
              for c, h, e in (("a", 0, "search"), ("a", 1, "product_view"), ("a", 2, "purchase"),
                              ("b", 0, "search"), ("b", 3, "product_view"))]
    with Store(tmp_path / "s.duckdb") as store:
        build(store, model, events)
        rep = build_report(store, model, lang="en")
    html = write_report(rep, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No data for this section." in html
    assert "Journey health" in html and "median time in the stage" in html
    assert rep.sections["feedback"]["nps"]["n"] == 0 and rep.sections["feedback"]["trend"] == []
    # a new customer with no spend recorded costs 0 (analysis/cac.py)
    assert rep.sections["cac"]["channels"] == [{"channel": "web", "spend": 0.0, "new_customers": 1, "cac": 0.0}]
    assert 'id="sec-clv"' in html and 'id="sec-map-grid"' in html


# -- the commands -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_ws(tmp_path_factory):
    """A workspace of its own: the commands open and close it themselves."""
    from rich.console import Console

    from parcours.demo import run_demo

    d = tmp_path_factory.mktemp("render-cli") / "ws"
    run_demo(d, customers=600, seed=7, lang="en", console=Console(quiet=True))
    return str(d)


def test_map_command(cli_ws, tmp_path):
    out = runner.invoke(app, ["map", cli_ws, "--out", str(tmp_path / "m.json"), "--lang", "en"])
    assert out.exit_code == 0, out.output
    assert "Written:" in out.output
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert [s["stage"] for s in data["stages"]] == load_template("cinq-etapes").path_order
    table = runner.invoke(app, ["map", cli_ws, "--lang", "fr"])
    assert table.exit_code == 0 and "personnes" in table.output and "Parcours conformes" in table.output
    bad = runner.invoke(app, ["map", cli_ws, "--persona", "nobody"])
    assert bad.exit_code == 4 and "unknown persona" in bad.output
    assert runner.invoke(app, ["map", cli_ws, "--out", str(tmp_path / "m.pdf")]).exit_code == 2


def test_map_and_report_of_a_saved_segment(cli_ws, tmp_path):
    add = runner.invoke(app, ["segment", "add", cli_ws, "pros", "--rule", "segment = b2b"])
    assert add.exit_code == 0, add.output
    out = runner.invoke(app, ["map", cli_ws, "--segment", "pros", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    persons = json.loads(runner.invoke(app, ["segment", "show", cli_ws, "pros", "--json"]).output)["persons"]
    assert data["scope"] == "pros" and data["customers"] == len(persons) > 0
    everyone = json.loads(runner.invoke(app, ["map", cli_ws, "--json"]).output)
    assert everyone["customers"] > data["customers"]
    rep = runner.invoke(app, ["report", cli_ws, "--segment", "pros", "--out", str(tmp_path / "r.html"), "--lang", "en"])
    assert rep.exit_code == 0, rep.output
    assert "Report written:" in rep.output and "· pros" in (tmp_path / "r.html").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["report", cli_ws, "--out", str(tmp_path / "r.pdf")])
    assert bad.exit_code == 2 and ".html" in bad.output
