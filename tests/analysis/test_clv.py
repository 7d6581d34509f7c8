"""CLV: BG/NBD and Gamma-Gamma against the published CDNOW estimates; the summary against a reference."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.clv import BgNbd, GammaGamma, bgnbd_log_likelihood, clv, customer_summary, fit_bgnbd, fit_gamma_gamma
from parcours.data.store import Store
from parcours.errors import AnalysisError

from .conftest import T0, complete, load_journey, refreshed_workspace

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def cdnow():
    return pd.read_csv(CDNOW)


# -- the published CDNOW results (Fader, Hardie & Lee 2005) ------------------------------------


def test_bgnbd_on_cdnow_matches_the_published_estimates(cdnow):
    m = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert getattr(m, k) == pytest.approx(v, rel=0.01), k
    # and the published log-likelihood, -9582.4
    ll = bgnbd_log_likelihood([m.r, m.alpha, m.a, m.b], cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert ll == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_on_cdnow_matches_the_published_estimates(cdnow):
    g = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert getattr(g, k) == pytest.approx(v, rel=0.01), k


# -- predictions against closed forms written out in plain Python -----------------------------


def hyp2f1_series(a, b, c, z, terms=20_000):
    """Gauss's hypergeometric series, summed term by term (|z| < 1)."""
    total, term = 1.0, 1.0
    for n in range(terms):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        if abs(term) < 1e-17 * abs(total):
            break
    return total


def ref_p_alive(m, x, t_x, T):
    if x == 0:
        return 1.0
    return 1 / (1 + m.a / (m.b + x - 1) * ((m.alpha + T) / (m.alpha + t_x)) ** (m.r + x))


def ref_expected(m, t, x, t_x, T):
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    hyp = hyp2f1_series(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    den = 1 + (a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0)
    return num / den


CUSTOMERS = [(0, 0.0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (7, 35.0, 36.0), (0, 0.0, 5.0)]


def test_p_alive_and_expected_purchases_closed_forms(cdnow):
    m = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*CUSTOMERS))
    assert m.p_alive(x, t_x, T) == pytest.approx([ref_p_alive(m, *c) for c in CUSTOMERS], rel=1e-10)
    assert m.expected_purchases(39, x, t_x, T) == pytest.approx(
        [ref_expected(m, 39, *c) for c in CUSTOMERS], rel=1e-9)
    # FHL 2005's worked example: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks.
    assert float(m.expected_purchases(39, [2], [30.43], [38.86])[0]) == pytest.approx(1.226, abs=0.001)
    # A customer seen for no time at all expects the unconditional E[X(t)] (FHL 2005, eq. 9).
    t = 39.0
    unconditional = (m.a + m.b - 1) / (m.a - 1) * (
        1 - (m.alpha / (m.alpha + t)) ** m.r * hyp2f1_series(m.r, m.b, m.a + m.b - 1, t / (m.alpha + t)))
    assert float(m.expected_purchases(t, [0], [0], [0])[0]) == pytest.approx(unconditional, rel=1e-9)
    # a long silence after frequent purchases makes a customer less likely alive
    assert m.p_alive([7], [5.0], [38.0])[0] < m.p_alive([7], [37.0], [38.0])[0]


def test_expected_spend_closed_form():
    g = GammaGamma(p=6.25, q=3.74, v=15.44)
    assert g.expected_spend([0, 3], [0.0, 40.0]) == pytest.approx(
        [6.25 * 15.44 / 2.74, 6.25 * (15.44 + 3 * 40.0) / (6.25 * 3 + 2.74)])


# -- the per-customer summary against a reference -------------------------------------------


def period_number(t: dt.datetime, unit: str) -> int:
    days = (t.date() - dt.date(1970, 1, 1)).days
    return days if unit == "day" else (t.date() - dt.date(1969, 12, 29)).days // 7


def reference_summary(events, purchase="buy", end=None, unit="day", margin=1.0):
    evs = complete(events)
    if end is None:
        end = max((e["timestamp"] for e in evs), default=None)
    if end is None:
        return {}
    per = defaultdict(lambda: defaultdict(float))
    for e in evs:
        if e["event"] == purchase and e["timestamp"] <= end and e.get("person_id") is not None:
            per[e["person_id"]][period_number(e["timestamp"], unit)] += e.get("value") or 0.0
    out = {}
    for person, periods in per.items():
        ks = sorted(periods)
        repeat = [periods[k] for k in ks[1:]]
        out[person] = {
            "frequency": len(ks) - 1, "recency": ks[-1] - ks[0], "T": period_number(end, unit) - ks[0],
            "mean_value": sum(repeat) / len(repeat) if repeat else None,
            "historical_clv": sum(periods.values()) * margin,
        }
    return out


event = st.fixed_dictionaries({
    "person_id": st.sampled_from(["p1", "p2", "p2", "p3", "p4"]),
    "timestamp": st.integers(0, 80).map(lambda n: T0 + n * 7 * H),  # several a day, across weeks
    "event": st.sampled_from(["buy", "buy", "view"]),
    "value": st.sampled_from([None, 0.0, 12.5, 40.0]),
})


@settings(max_examples=100, deadline=None)
@given(events=st.lists(event, max_size=25), unit=st.sampled_from(["day", "week"]),
       end=st.one_of(st.none(), st.integers(0, 80).map(lambda n: T0 + n * 7 * H)),
       margin=st.sampled_from([1.0, 0.3]))
def test_customer_summary_equals_reference(shared_store, events, unit, end, margin):
    load_journey(shared_store, events)
    frame, got_end = customer_summary(shared_store, "buy", end, unit, margin)
    want = reference_summary(events, "buy", end, unit, margin)
    got = {row.customer: {"frequency": row.frequency, "recency": row.recency, "T": row.T,
                          "mean_value": None if pd.isna(row.mean_value) else row.mean_value,
                          "historical_clv": row.historical_clv}
           for row in frame.itertuples(index=False)}
    assert got.keys() == want.keys()
    for person, w in want.items():
        assert got[person] == pytest.approx(w), person
    if events:
        assert got_end == (end or max(e["timestamp"] for e in events))


# -- the whole analysis on a store -----------------------------------------------------------------


def purchases(n_customers=300, seed=3):
    """Customers who buy on random days of a year, some often, some once, some stopping early."""
    rng = random.Random(seed)
    events = []
    for i in range(n_customers):
        start = rng.randrange(0, 200)
        stop = start + rng.choice([0, 30, 120, 365])
        rate = rng.choice([0.01, 0.03, 0.1])
        spend = rng.choice([10.0, 30.0, 90.0])
        events.append({"person_id": f"c{i:03d}", "timestamp": T0 + start * D, "event": "buy", "value": spend})
        for day in range(start + 1, min(stop, 365)):
            if rng.random() < rate:
                events.append({"person_id": f"c{i:03d}", "timestamp": T0 + day * D + 3 * H, "event": "buy",
                               "value": round(spend * rng.uniform(0.5, 1.5), 2)})
    return events


@pytest.fixture(scope="module")
def year_store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("clv") / "year.duckdb")
    yield load_journey(store, purchases())
    store.close()


def test_clv_fits_the_summary_and_predicts_per_customer(year_store):
    end = T0 + 365 * D
    r = clv(year_store, "buy", calibration_end=end, unit="week", horizon=26, margin=0.4)
    summary, _ = customer_summary(year_store, "buy", end, "week", 0.4)
    m = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    g = fit_gamma_gamma(summary["frequency"], summary["mean_value"])
    assert r.params == pytest.approx(m.to_dict(), rel=1e-6)
    assert r.gamma_gamma == pytest.approx(g.to_dict(), rel=1e-6)
    assert len(r.customers) == 300 and r.notes == []
    for c in r.customers[:40]:
        x, t_x, T = c["frequency"], c["recency"], c["T"]
        assert c["p_alive"] == pytest.approx(ref_p_alive(m, x, t_x, T), rel=1e-6)
        assert c["expected_purchases"] == pytest.approx(ref_expected(m, 26, x, t_x, T), rel=1e-6)
        assert c["predicted_clv"] == pytest.approx(c["expected_purchases"] * c["expected_spend"] * 0.4)
    d = r.to_dict()
    assert set(d["params"]) == {"r", "alpha", "a", "b"} and set(d["gamma_gamma"]) == {"p", "q", "v"}
    assert d["calibration_end"] == end.isoformat()
    assert list(r.to_frame().columns)[:4] == ["customer", "frequency", "recency", "T"]


def test_discounting(year_store):
    end = T0 + 365 * D
    plain = clv(year_store, "buy", calibration_end=end, unit="week", horizon=12)
    zero = clv(year_store, "buy", calibration_end=end, unit="week", horizon=12, discount_rate=0.0)
    disc = clv(year_store, "buy", calibration_end=end, unit="week", horizon=12, discount_rate=0.05)
    for a, b, c in zip(plain.customers, zero.customers, disc.customers):
        assert b["expected_purchases"] == pytest.approx(a["expected_purchases"], rel=1e-9, abs=1e-12)
        assert c["expected_purchases"] < a["expected_purchases"]
        assert c["expected_purchases"] > a["expected_purchases"] / 1.05 ** 12


def test_too_little_data_is_noted_not_fatal(journey_store):
    one_each = journey_store([
        {"person_id": "a", "timestamp": T0, "event": "buy", "value": 5.0},
        {"person_id": "b", "timestamp": T0 + D, "event": "buy", "value": 7.0},
        {"person_id": "b", "timestamp": T0 + D + H, "event": "buy", "value": 3.0},  # same day: one purchase
    ])
    r = clv(one_each, "buy")
    assert r.params is None and r.gamma_gamma is None and len(r.notes) == 2
    assert [(c["customer"], c["frequency"], c["historical_clv"], c["p_alive"]) for c in r.customers] == [
        ("a", 0, 5.0, None), ("b", 0, 10.0, None)]
    assert clv(journey_store([]), "buy").customers == []


def test_errors(journey_store):
    store = journey_store([])
    with pytest.raises(AnalysisError, match="unit must be one of"):
        clv(store, unit="month")
    with pytest.raises(AnalysisError, match="horizon must be"):
        clv(store, horizon=0)
    with pytest.raises(AnalysisError, match="invalid date"):
        clv(store, calibration_end="yesterday")
    with pytest.raises(AnalysisError, match="recency <= T"):
        fit_bgnbd([1], [5], [3])


def simulate_bgnbd(n, r, alpha, a, b, weeks, seed):
    """Raw purchase events drawn from the BG/NBD story: a first purchase in the first half of
    the calibration year, then Poisson purchases at a Gamma(r, alpha) rate (per week), each
    followed by a Beta(a, b) chance to drop out for good."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        lam, p = rng.gamma(r, 1 / alpha), rng.beta(a, b)
        t = rng.uniform(0, 26)
        while t < weeks:
            events.append({"person_id": f"c{i:04d}", "timestamp": T0 + dt.timedelta(weeks=float(t)),
                           "event": "buy", "value": float(rng.gamma(4.0, 10.0))})
            if len(events) > 1 and events[-2]["person_id"] == events[-1]["person_id"] and rng.random() < p:
                break
            t += rng.exponential(1 / lam)
    return events


def test_predictions_match_a_holdout_drawn_from_the_model(tmp_path):
    # Fit on weeks 0-52 of customers simulated from known parameters, predict weeks 52-78,
    # and compare with what the simulation did: totals close, parameters recovered roughly.
    events = simulate_bgnbd(3000, r=0.5, alpha=4.0, a=0.8, b=3.0, weeks=78, seed=11)
    end = T0 + dt.timedelta(weeks=52)
    store = Store(tmp_path / "sim.duckdb")
    load_journey(store, events)
    r = clv(store, "buy", calibration_end=end, unit="day", horizon=26 * 7)  # days: few same-unit purchases
    store.close()
    days_after = defaultdict(set)
    for e in events:
        if end < e["timestamp"] <= end + dt.timedelta(weeks=26):
            days_after[e["person_id"]].add(period_number(e["timestamp"], "day"))
    actual = sum(len(w) for w in days_after.values())
    predicted = sum(c["expected_purchases"] for c in r.customers)
    assert predicted == pytest.approx(actual, rel=0.1)
    # the simulation's rates are per week: alpha is 7 times larger in days
    assert r.params["r"] == pytest.approx(0.5, rel=0.2) and r.params["alpha"] == pytest.approx(28.0, rel=0.2)


def test_codes_engine_equals_journey_view():
    # journey_events' codes and journey_view hold the same purchases: same summary, same fit.
    events = purchases(120, seed=5) + [{"person_id": "x", "timestamp": T0 + 400 * D, "event": "view"}]
    with refreshed_workspace(events) as store:
        for unit, end in (("week", None), ("day", T0 + 200 * D)):
            fast = clv(store, "buy", calibration_end=end, unit=unit, horizon=10, engine="codes").to_dict()
            slow = clv(store, "buy", calibration_end=end, unit=unit, horizon=10, engine="portable").to_dict()
            assert fast["calibration_end"] == slow["calibration_end"]
            assert len(fast["customers"]) == len(slow["customers"]) > 100
            for a, b in zip(fast["customers"], slow["customers"]):
                assert a == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in b.items()}
            assert fast["params"] == pytest.approx(slow["params"])
        assert clv(store, "nothing", engine="codes").customers == []
