"""`parcours attribution`, `cac` and `clv` end to end: real workspace, imported files, --json values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcours.cli import app

runner = CliRunner()


def run(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})  # wide tables
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("value")
    d = tmp / "ws"
    run("init", d, "--lang", "en")
    events = tmp / "events.csv"
    events.write_text(
        "customer_id,timestamp,event,channel,value\n"
        # c1: A, A, B then a purchase; again 3 weeks later
        "c1,2024-01-01T09:00:00Z,ad_click,A,\n"
        "c1,2024-01-01T10:00:00Z,ad_click,A,\n"
        "c1,2024-01-02T09:00:00Z,product_view,B,\n"
        "c1,2024-01-03T09:00:00Z,purchase,,10\n"
        "c1,2024-01-24T09:00:00Z,purchase,,30\n"
        # c2: A and nothing else
        "c2,2024-01-05T09:00:00Z,ad_click,A,\n"
        # c3: B then a purchase, again 2 weeks later and 5 weeks later
        "c3,2024-02-01T09:00:00Z,product_view,B,\n"
        "c3,2024-02-02T09:00:00Z,purchase,,20\n"
        "c3,2024-02-16T09:00:00Z,purchase,,40\n"
        "c3,2024-03-08T09:00:00Z,purchase,,50\n"
        # c4: buys twice the same day (one transaction), once more later
        "c4,2024-02-10T09:00:00Z,purchase,B,5\n"
        "c4,2024-02-10T12:00:00Z,purchase,B,5\n"
        "c4,2024-03-20T09:00:00Z,purchase,B,15\n",
        encoding="utf-8")
    spend = tmp / "spend.csv"
    spend.write_text("date,channel,campaign,amount,currency\n"
                     "2024-01-01,A,winter,100,EUR\n2024-01-15,B,,50,EUR\n2024-02-01,B,,90,EUR\n",
                     encoding="utf-8")
    run("import", d, events)
    run("import", d, spend, "--kind", "spend")
    return d


def test_attribution_markov_and_heuristics(ws):
    d = json.loads(run("attribution", ws, "--conversion", "purchase", "--json").output)
    assert d["model"] == "markov" and d["conversions"] == 8
    rows = {r["channel"]: r for r in d["channels"]}
    # paths: c1 A A B → conv (A A collapses), c2 A → null, c3 B → conv; the other five purchases
    # have no touch in their 30 days (a purchase's own channel is not a touch).
    # S→A 2/3, S→B 1/3, A→B 1/2, B→conv 1: P(conv) = 2/3; without A 1/3 (effect 1/2), without B 0 (1).
    assert rows["A"]["removal_effect"] == pytest.approx(0.5)
    assert rows["B"]["removal_effect"] == pytest.approx(1.0)
    assert rows["A"]["conversions"] == pytest.approx(2 / 3) and rows["A"]["value"] == pytest.approx(10.0)
    assert rows["B"]["conversions"] == pytest.approx(4 / 3) and rows["B"]["value"] == pytest.approx(20.0)
    assert rows["(none)"]["conversions"] == 6 and rows["(none)"]["removal_effect"] is None
    last = json.loads(run("attribution", ws, "--conversion", "purchase", "--model", "last", "--json").output)
    assert {r["channel"]: r["value"] for r in last["channels"]} == {"A": 0.0, "B": 30.0, "(none)": 145.0}
    first = json.loads(run("attribution", ws, "--conversion", "purchase", "--model", "first",
                           "--lookback", "12h", "--json").output)
    assert {r["channel"]: r["conversions"] for r in first["channels"]} == {"(none)": 8.0}
    out = run("attribution", ws, "--conversion", "purchase", "--lang", "fr").output
    assert "effet de retrait" in out and "8 conversions" in out
    assert "model must be one of" in run("attribution", ws, "--conversion", "purchase", "--model", "nope",
                                         code=4).output


def test_cac_by_channel(ws):
    d = json.loads(run("cac", ws, "--by", "channel", "--json").output)
    # first touch: c1 A (January), c3 B (February), c4 B (February)
    assert d["rows"] == [
        {"period": "2024-01-01", "channel": "A", "spend": 100.0, "new_customers": 1, "cac": 100.0},
        {"period": "2024-01-01", "channel": "B", "spend": 50.0, "new_customers": 0, "cac": None},
        {"period": "2024-02-01", "channel": "B", "spend": 90.0, "new_customers": 2, "cac": 45.0},
    ]
    assert d["total"] == {"spend": 240.0, "new_customers": 3, "cac": 80.0}
    camp = json.loads(run("cac", ws, "--by", "campaign", "--period", "quarter", "--json").output)
    assert [(r["campaign"], r["spend"], r["new_customers"]) for r in camp["rows"]] == [
        ("(none)", 140.0, 3), ("winter", 100.0, 0)]
    out = run("cac", ws, "--lang", "en").output
    assert "new customers" in out and "Total: spend 240" in out
    assert "nouveaux clients" in run("cac", ws, "--lang", "fr").output


def test_clv(ws):
    d = json.loads(run("clv", ws, "--unit", "day", "--horizon", "30", "--calibration-end", "2024-03-31",
                       "--json").output)
    assert d["unit"] == "day" and d["horizon"] == 30
    customers = {c["customer"]: c for c in d["customers"]}
    assert sorted(customers) == ["c1", "c3", "c4"]
    # c1: days 2 and 23 of 2024 -> x=1, recency 21, T = 90 - 2 = 88; c4: same-day purchases count once
    assert (customers["c1"]["frequency"], customers["c1"]["recency"], customers["c1"]["T"]) == (1, 21.0, 88.0)
    assert (customers["c3"]["frequency"], customers["c3"]["recency"]) == (2, 35.0)
    assert (customers["c4"]["frequency"], customers["c4"]["historical_clv"]) == (1, 25.0)
    assert set(d["params"]) == {"r", "alpha", "a", "b"} and set(d["gamma_gamma"]) == {"p", "q", "v"}
    for c in customers.values():
        assert 0 < c["p_alive"] <= 1 and c["expected_purchases"] > 0
    assert "P(alive)" in run("clv", ws, "--lang", "en").output
    assert "unit must be one of" in run("clv", ws, "--unit", "month", code=4).output
