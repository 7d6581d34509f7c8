"""compare: a planted difference is flagged, identical or random halves are not; the tests'
p-values equal scipy's reference tests."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from parcours.analysis.compare import compare, nps_difference, two_proportions
from parcours.errors import AnalysisError

from .conftest import T0
from .test_segments import make_workspace

STEPS = ["product_view", "add_to_cart", "purchase"]


def shop(rng, people, p_buy, nps):
    """Everyone views and adds to cart; a share ``p_buy`` buys; NPS answers drawn from ``nps``."""
    events, feedback = [], []
    for p in people:
        t = T0 + dt.timedelta(hours=rng.randint(0, 48))
        events += [{"customer_id": p, "timestamp": t, "event": "product_view", "channel": "web"},
                   {"customer_id": p, "timestamp": t + dt.timedelta(minutes=rng.randint(1, 60)),
                    "event": "add_to_cart", "channel": "web"}]
        if rng.random() < p_buy:
            events.append({"customer_id": p, "timestamp": t + dt.timedelta(hours=2), "event": "purchase",
                           "channel": "web", "value": 40.0})
        feedback.append({"customer_id": p, "timestamp": t + dt.timedelta(days=3), "kind": "nps",
                         "score": rng.choice(nps)})
    return events, feedback


def test_a_planted_difference_is_flagged(tmp_path):
    rng = random.Random(7)
    a, b = [f"a{i:03}" for i in range(60)], [f"b{i:03}" for i in range(60)]
    ev_a, fb_a = shop(rng, a, 0.9, [9, 10, 10, 8])
    ev_b, fb_b = shop(rng, b, 0.2, [2, 5, 6, 8])
    customers = [{"customer_id": p, "attributes": {"kind": p[0]}} for p in a + b]
    with make_workspace(tmp_path / "ws", ev_a + ev_b, customers, fb_a + fb_b) as ws:
        ws.save_segment("A", "kind = a")
        ws.save_segment("B", "kind = b")
        result = compare(ws.store, ws.model, "A", "B", steps=STEPS, window="1d")
    out = result.to_dict()
    assert set(out) == {"segments", "alpha", "funnel", "kpis", "paths", "feedback", "differences"}
    assert out["segments"] == ["A", "B"]
    assert [f["a"]["count"] for f in out["funnel"]] == [60, 60, sum(1 for e in ev_a if e["event"] == "purchase")]
    flagged = {(d["measure"], d["where"]) for d in result.significant()}
    assert ("funnel_conversion", "purchase") in flagged
    assert ("nps", "overall") in flagged
    assert ("stage_conversion", "consideration") not in flagged  # everyone goes on to the cart
    buy = next(d for d in out["differences"] if (d["measure"], d["where"]) == ("funnel_conversion", "purchase"))
    assert buy["effect"] == pytest.approx(buy["b"] - buy["a"]) and buy["effect"] < -0.5
    nps = next(d for d in out["differences"] if d["measure"] == "nps")
    assert nps["ci_low"] <= nps["effect"] <= nps["ci_high"] < 0
    for d in out["differences"]:
        assert set(d) >= {"measure", "where", "a", "b", "effect", "p_value", "q_value", "significant"}
        assert d["significant"] == (d["q_value"] is not None and d["q_value"] <= 0.05)


def test_identical_segments_and_random_halves_are_not_flagged(tmp_path):
    rng = random.Random(11)
    people = [f"c{i:03}" for i in range(120)]
    events, feedback = shop(rng, people, 0.5, list(range(11)))
    splits = 8
    customers = [{"customer_id": p, "attributes": {"same": "x", **{f"half{k}": rng.choice("ab") for k in range(splits)}}}
                 for p in people]
    with make_workspace(tmp_path / "ws", events, customers, feedback) as ws:
        ws.save_segment("one", "same = x")
        ws.save_segment("two", "same = x")
        same = compare(ws.store, ws.model, "one", "two", steps=STEPS, window="1d")
        assert same.significant() == []
        assert {d["p_value"] for d in same.differences} <= {1.0, None}
        flagged = 0
        for k in range(splits):
            ws.save_segment(f"h{k}a", f"half{k} = a")
            ws.save_segment(f"h{k}b", f"half{k} = b")
            flagged += bool(compare(ws.store, ws.model, f"h{k}a", f"h{k}b", steps=STEPS, window="1d").significant())
    # under no difference, Benjamini-Hochberg flags a split with probability at most alpha (0.05)
    assert flagged <= 2


def test_compare_errors(tmp_path):
    with make_workspace(tmp_path / "ws", [{"customer_id": "c", "timestamp": T0, "event": "purchase"}]) as ws:
        ws.save_segment("all", "did purchase")
        with pytest.raises(AnalysisError, match="two different segments"):
            compare(ws.store, ws.model, "all", "all")
        with pytest.raises(AnalysisError, match="unknown segment 'nope'"):
            compare(ws.store, ws.model, "all", "nope")


@settings(max_examples=200, deadline=None)
@given(n1=st.integers(1, 60), n2=st.integers(1, 60), data=st.data())
def test_two_proportions_is_the_chi_square_without_correction(n1, n2, data):
    k1, k2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    p = two_proportions(k1, n1, k2, n2)
    table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
    if (table.sum(axis=0) == 0).any():
        assert p == 1.0
    else:
        assert p == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9, abs=1e-12)
    assert two_proportions(k1, n1, 0, 0) is None


@settings(max_examples=100, deadline=None)
@given(a=st.lists(st.integers(0, 10), min_size=1, max_size=40), b=st.lists(st.integers(0, 10), min_size=1, max_size=40))
def test_nps_difference_by_hand(a, b):
    def measures(xs):
        return {"n": len(xs), "promoters": sum(x >= 9 for x in xs), "detractors": sum(x <= 6 for x in xs)}

    def coded(xs):  # one answer coded +1 / 0 / -1: NPS is 100 times its mean
        return np.array([1 if x >= 9 else -1 if x <= 6 else 0 for x in xs], float)

    got = nps_difference(measures(a), measures(b))
    ca, cb = coded(a), coded(b)
    assert got["effect"] == pytest.approx(100 * (cb.mean() - ca.mean()))
    se = 100 * np.sqrt(ca.var() / len(a) + cb.var() / len(b))  # population variances, as the NPS CI
    assert got["ci_high"] - got["ci_low"] == pytest.approx(2 * 1.959963984540054 * se, abs=1e-9)
    if se > 0:
        assert got["p_value"] == pytest.approx(2 * stats.norm.sf(abs(got["effect"]) / se))
