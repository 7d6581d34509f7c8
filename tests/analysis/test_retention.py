"""Retention: the engine equals a slow plain-Python reference, plus worked examples."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.retention import period_start, retention
from parcours.errors import AnalysisError

from .conftest import T0, load_journey

D = dt.timedelta(days=1)


def number(ts: dt.datetime, period: str) -> int:
    if period == "month":
        return ts.year * 12 + ts.month - 1
    days = (ts.date() - dt.date(1970, 1, 1)).days
    return days if period == "day" else (days + 3) // 7


def reference_retention(events, start_event="purchase", return_event=None, period="day", periods=12,
                        retention_type="first_time"):
    events = [e for e in events if e.get("person_id") is not None]
    if not events:
        return [], [], (0, 0)
    last = max(number(e["timestamp"], period) for e in events)
    first_shown = last - periods + 1
    active, started, bought = defaultdict(set), defaultdict(set), defaultdict(int)
    for e in events:
        p, n = e["person_id"], number(e["timestamp"], period)
        if return_event is None or e["event"] == return_event:
            active[p].add(n)
        if e["event"] == start_event:
            started[p].add(n)
        if e["event"] == "purchase":
            bought[p] += 1

    members = defaultdict(set)  # cohort -> customers
    for p, ns in started.items():
        for c in ([min(ns)] if retention_type == "first_time" else ns):
            if c >= first_shown:
                members[c].add(p)
    cohorts = []
    for c in sorted(members):
        size = len(members[c])
        values = []
        for n in range(min(periods, last - c + 1)):
            k = sum(1 for p in members[c] if c + n in active.get(p, ()))
            prev = values[-1]["customers"] if values else 0
            values.append({"period": n, "customers": k, "share": k / size,
                           "share_of_previous": k / prev if n > 0 and prev > 0 else None})
        cohorts.append({"cohort": period_start(c, period).isoformat(), "size": size, "values": values})

    lifecycle = []
    if active:
        first_active = min(min(ns) for ns in active.values())
        for q in range(max(first_shown, first_active), last + 1):
            row = dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0)
            for ns in active.values():
                if q in ns:
                    row["new" if q == min(ns) else "returning" if q - 1 in ns else "resurrecting"] += 1
                elif q - 1 in ns:
                    row["dormant"] += 1
            lifecycle.append({"period": period_start(q, period).isoformat(), **row})
    buyers = [n for n in bought.values() if n]
    return cohorts, lifecycle, (len(buyers), sum(1 for n in buyers if n >= 2))


event = st.builds(
    lambda p, d, h, name: {"person_id": p, "timestamp": T0 + d * D + h * dt.timedelta(hours=1), "event": name},
    st.sampled_from(["p1", "p2", "p3", "p4", None]),
    st.integers(-3, 70),
    st.integers(0, 23),
    st.sampled_from(["purchase", "purchase", "view", "login"]),
)
journeys = st.integers(0, 25).flatmap(lambda n: st.lists(event, min_size=n, max_size=n))


@settings(max_examples=60, deadline=None)
@given(
    events=journeys,
    return_event=st.sampled_from([None, "purchase", "login"]),
    period=st.sampled_from(["day", "week", "month"]),
    periods=st.sampled_from([1, 3, 12]),
    retention_type=st.sampled_from(["first_time", "recurring"]),
)
def test_retention_equals_reference(shared_store, events, return_event, period, periods, retention_type):
    load_journey(shared_store, events)
    got = retention(shared_store, "purchase", return_event, period, periods, retention_type=retention_type)
    cohorts, lifecycle, (buyers, repeat) = reference_retention(
        events, "purchase", return_event, period, periods, retention_type
    )
    assert got.cohorts == cohorts
    assert got.lifecycle == lifecycle
    assert (got.purchasers, got.repeat_purchasers) == (buyers, repeat)


def ev(person, day, name, hour=0):
    return {"person_id": person, "timestamp": T0 + day * D + hour * dt.timedelta(hours=1), "event": name}


def test_worked_example(journey_store):
    store = journey_store([
        ev("ann", 0, "purchase"), ev("ann", 1, "view"), ev("ann", 3, "purchase"),
        ev("bob", 1, "purchase"), ev("bob", 2, "view"),
        ev("cat", 0, "view"),
    ])
    r = retention(store, periods=5)
    assert [(c["cohort"], c["size"], [v["customers"] for v in c["values"]]) for c in r.cohorts] == [
        ("2024-03-04", 1, [1, 1, 0, 1]), ("2024-03-05", 1, [1, 1, 0])]
    assert [(x["new"], x["returning"], x["resurrecting"], x["dormant"]) for x in r.lifecycle] == [
        (2, 0, 0, 0), (1, 1, 0, 1), (0, 1, 0, 1), (0, 0, 1, 1)]
    assert r.repeat_purchase_rate == 0.5 and r.to_dict()["repeat_purchase_rate"] == 0.5
    same = retention(store, return_event="purchase", periods=5)
    assert [v["customers"] for v in same.cohorts[0]["values"]] == [1, 0, 0, 1]
    weekly = retention(store, period="week", retention_type="recurring")
    assert weekly.to_frame().to_dict("records") == [
        {"cohort": "2024-03-04", "size": 2, "period": 0, "customers": 2, "share": 1.0, "share_of_previous": None}]
    assert [v["share_of_previous"] for v in r.cohorts[0]["values"]] == [None, 1.0, 0.0, None]


def test_month_and_week_boundaries(journey_store):
    # 2024-03-31 is a Sunday: Monday 1 April starts a new week and a new month.
    store = journey_store([
        {"person_id": "ann", "timestamp": dt.datetime(2024, 3, 31, 23, 59), "event": "purchase"},
        {"person_id": "ann", "timestamp": dt.datetime(2024, 4, 1, 0, 0), "event": "view"},
    ])
    for period in ("week", "month"):
        r = retention(store, period=period)
        assert [v["customers"] for v in r.cohorts[0]["values"]] == [1, 1]
    assert retention(store, period="week").cohorts[0]["cohort"] == "2024-03-25"


def test_empty_and_bad_parameters(journey_store):
    store = journey_store([])
    r = retention(store)
    assert r.cohorts == [] and r.lifecycle == [] and r.repeat_purchase_rate is None
    assert list(r.to_frame().columns) == ["cohort", "size", "period", "customers", "share", "share_of_previous"]
    for bad in ({"period": "year"}, {"periods": 0}, {"retention_type": "sometimes"}):
        with pytest.raises(AnalysisError):
            retention(store, **bad)
