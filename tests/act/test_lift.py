"""Lift against the holdout: the interval covers the true effect on synthetic responses."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from parcours.act.engine import Engine
from parcours.act.ids import unit_hash
from parcours.act.lift import lift, newcombe, wilson
from parcours.act.scenario import parse_scenario, template_text
from parcours.act.settings import Settings
from parcours.cli import app
from parcours.errors import AnalysisError

from .conftest import T0, customer

DAY = dt.timedelta(days=1)


def test_newcombe_worked_example():
    # Newcombe (1998), table II, example (a): 56/70 vs 48/80 -> 0.2000 [0.0524, 0.3339]
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)
    lo1, hi1 = wilson(0, 10, 1.959964)
    assert lo1 == 0 and round(hi1, 4) == 0.2775


def test_interval_coverage_on_simulated_experiments():
    rng = np.random.default_rng(3)
    hits = 0
    reps = 1000
    for _ in range(reps):
        n1, n2 = rng.integers(50, 400, 2)
        p1, p2 = rng.uniform(0.02, 0.6, 2)
        k1, k2 = rng.binomial(n1, p1), rng.binomial(n2, p2)
        _, lo, hi = newcombe(int(k1), int(n1), int(k2), int(n2))
        hits += lo <= p1 - p2 <= hi
    assert 0.93 <= hits / reps <= 0.97


def test_known_effect_is_recovered_end_to_end(make_ws):
    """Real entries through the engine (hash holdout), then purchases drawn with a known effect."""
    n, p_holdout, effect = 3000, 0.12, 0.08
    ws = make_ws([customer(i) for i in range(n)],
                 [{"customer_id": f"c{i}", "timestamp": T0 + dt.timedelta(seconds=i), "event": "add_to_cart"}
                  for i in range(n)], ["abandoned-cart"])
    sc = parse_scenario(template_text("abandoned-cart")).model_copy(update={"holdout": 0.3})
    Engine(ws.store, [sc], Settings(batch_size=1000)).run(T0 + 2 * DAY, deliver_messages=False)
    variant = dict(ws.store.fetch("SELECT customer_id, coalesce(variant, 'treated') FROM act_state"))
    assert len(variant) == n
    assert all((variant[f"c{i}"] == "holdout") == (unit_hash("holdout", "abandoned-cart", f"c{i}") < 0.3)
               for i in range(n))

    rng = np.random.default_rng(11)
    buys = []
    for i in range(n):
        p = p_holdout + (0 if variant[f"c{i}"] == "holdout" else effect)
        if rng.random() < p:
            buys.append({"customer_id": f"c{i}", "timestamp": T0 + 3 * DAY, "event": "purchase", "value": 50.0})
    # noise the window must leave out: purchases after the 7-day goal window
    buys += [{"customer_id": f"c{i}", "timestamp": T0 + 9 * DAY, "event": "purchase", "value": 5.0} for i in range(0, n, 3)]
    ws.import_events(pd.DataFrame(buys), refresh=False)

    res = lift(ws.store, sc, as_of=T0 + 10 * DAY)
    held = [c for c, v in variant.items() if v == "holdout"]
    bought = {b["customer_id"] for b in buys if b["timestamp"] == T0 + 3 * DAY}
    assert (res.holdout, res.holdout_goal) == (len(held), len(bought & set(held)))
    assert (res.treated, res.treated_goal) == (n - len(held), len(bought - set(held)))
    assert res.low < effect < res.high
    assert res.low > 0 and res.significant
    assert abs(res.difference - effect) < 0.04
    d = res.to_dict()
    assert d["interval"] == [res.low, res.high] and json.dumps(d)

    # entries whose goal window is still open are not counted
    assert lift(ws.store, sc, as_of=T0 + 5 * DAY).treated == 0


def test_lift_cli_and_errors(make_ws):
    ws = make_ws([customer(0)], [{"customer_id": "c0", "timestamp": T0, "event": "add_to_cart"}], ["thank-you", "abandoned-cart"])
    path = ws.path
    with pytest.raises(AnalysisError, match="has no goal"):
        lift(ws.store, parse_scenario(template_text("thank-you")))
    ws.close()
    runner = CliRunner()
    res = runner.invoke(app, ["lift", str(path), "--scenario", "nope"])
    assert res.exit_code == 2 and "unknown scenario 'nope'" in res.output
    res = runner.invoke(app, ["run", str(path), "--until", "2024-03-20", "--no-deliver", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["lift", str(path), "--scenario", "abandoned-cart", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["interval"] is None
    res = runner.invoke(app, ["lift", str(path), "--scenario", "abandoned-cart", "--lang", "en"])
    assert "not enough entries" in res.output
