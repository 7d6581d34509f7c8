"""The analyses' charts draw the result's own numbers, and the `--chart` page renders offline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from parcours.analysis.funnel import funnel, funnel_trends
from parcours.analysis.paths import paths
from parcours.analysis.retention import retention
from parcours.cli import app
from parcours.render.charts import figures

STEPS = ["product_view", "add_to_cart", "purchase"]


def test_funnel_figures_are_its_counts_and_histograms(demo_ws):
    result = funnel(demo_ws.store, STEPS, by="channel")
    (_, main), (_, ttc) = figures(result, "en")
    assert list(main.data[0].x) == [s.count for s in result.steps]
    assert [(t.name, list(t.x)) for t in main.data[1:]] == [
        (str(b.value), [s.count for s in b.steps]) for b in result.breakdown]
    assert [sum(t.y) for t in ttc.data] == [s.count for s in result.steps[1:]]
    assert result.chart("en").to_dict() == main.to_dict()


def test_trends_paths_and_retention_figures_are_their_numbers(demo_ws):
    trends = funnel_trends(demo_ws.store, STEPS, period="week")
    bars, line = trends.chart("fr").data
    assert list(bars.y) == [p["steps"][0].count for p in trends.periods]
    assert list(line.y) == [p["steps"][-1].conversion_from_first for p in trends.periods]

    result = paths(demo_ws.store, by="stage")
    sankey = result.chart().data[0]
    assert list(sankey.link.value) == result.sankey()["link"]["value"] and sum(sankey.link.value) > 0
    assert list(sankey.node.label) == result.sankey()["node"]["label"]

    ret = retention(demo_ws.store, period="week", return_event="purchase")
    (_, cohorts), (_, lifecycle) = figures(ret, "en")
    z = cohorts.data[0].z
    for row, c in zip(z, ret.cohorts):
        assert list(row[:len(c["values"])]) == [v["share"] for v in c["values"]]
    by_name = {t.name: list(t.y) for t in lifecycle.data}
    assert by_name["new"] == [r["new"] for r in ret.lifecycle]
    assert by_name["dormant"] == [-r["dormant"] for r in ret.lifecycle]


def test_a_result_without_a_picture_says_so(demo_ws):
    from parcours.analysis.funnel import funnel_people

    with pytest.raises(TypeError, match="no chart"):
        figures(funnel_people(demo_ws.store, STEPS), "fr")


@pytest.mark.parametrize("command", [
    ["funnel", "--step", "product_view", "--step", "purchase", "--by", "channel"],
    ["funnel", "--step", "product_view", "--step", "purchase", "--over", "week"],
    ["paths", "--by", "stage"],
    ["retention", "--period", "week"],
])
def test_chart_option_writes_a_page_that_renders_offline(demo_ws, browser, tmp_path, command):
    out = tmp_path / "chart.html"
    res = CliRunner().invoke(app, [command[0], str(demo_ws.path), *command[1:], "--chart", str(out),
                                   "--json", "--lang", "en"])
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)  # the JSON stays alone on stdout
    text = out.read_text(encoding="utf-8")
    assert "<script src=" not in text and '<html lang="en">' in text
    page = browser.new_page()
    errors, fetched = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort())
               if not route.request.url.startswith(("file:", "data:")) else route.continue_())
    page.goto(out.as_uri(), wait_until="load")
    drawn = page.evaluate("() => [...document.querySelectorAll('.chart')].map(c => "
                          "!!c.querySelector('.plot-container svg') && c.getBoundingClientRect().height > 100)")
    page.close()
    assert errors == [] and fetched == []
    assert drawn and all(drawn)
