"""CAC: spend / new customers per period and channel or campaign, against a plain-Python reference."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.cac import NO_GROUP, cac
from parcours.errors import AnalysisError

from .conftest import T0, complete, load_journey

D = dt.timedelta(days=1)


def load_spend(store, rows):
    with store.transaction() as con:
        con.execute("DELETE FROM spend")
        for r in rows:
            con.execute("INSERT INTO spend VALUES (?, ?, ?, ?, 'EUR')",
                        [r["date"], r["channel"], r.get("campaign"), r["amount"]])


# -- the reference ----------------------------------------------------------------------------


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def reference_cac(events, spend, by, period, new_event="purchase", since=None, until=None):
    people = defaultdict(list)
    for e in complete(events):
        if e.get("person_id") is not None:
            people[e["person_id"]].append(e)

    def inside(t):
        return (since is None or t >= since) and (until is None or t < until)

    new = defaultdict(int)
    for evs in people.values():
        evs.sort(key=lambda e: (e["timestamp"], e["seq"]))
        buys = [e["timestamp"] for e in evs if e["event"] == new_event]
        if not buys or not inside(buys[0]):
            continue
        group = ""
        if by == "channel":
            group = next((e["channel"] for e in evs if e.get("channel") is not None), None)
        elif by == "campaign":
            group = next((e["properties"]["campaign"] for e in evs
                          if (e.get("properties") or {}).get("campaign") is not None), None)
        new[(period_start(buys[0].date(), period), NO_GROUP if group is None else group)] += 1
    spent = defaultdict(float)
    for r in spend:
        if not inside(dt.datetime.combine(r["date"], dt.time())):
            continue
        group = "" if by is None else r.get(by)
        spent[(period_start(r["date"], period), NO_GROUP if group is None else group)] += r["amount"]
    rows = []
    for key in sorted(set(new) | set(spent)):
        row = {"period": key[0].isoformat()}
        if by:
            row[by] = key[1]
        n = new.get(key, 0)
        row.update(spend=spent.get(key, 0.0), new_customers=n, cac=spent.get(key, 0.0) / n if n else None)
        rows.append(row)
    return rows


# -- random data -----------------------------------------------------------------------------

event = st.fixed_dictionaries({
    "person_id": st.sampled_from(["p1", "p2", "p3", "p4", "p5"]),
    "timestamp": st.integers(0, 120).map(lambda n: T0 + n * D + dt.timedelta(hours=n % 24)),
    "event": st.sampled_from(["view", "purchase", "purchase", "signup"]),
    "channel": st.sampled_from([None, "web", "ads", "email"]),
    "properties": st.sampled_from([None, {}, {"campaign": "spring"}, {"campaign": "summer"}]),
})
spend_row = st.fixed_dictionaries({
    "date": st.integers(0, 120).map(lambda n: (T0 + n * D).date()),
    "channel": st.sampled_from(["web", "ads", "email", "tv"]),
    "campaign": st.sampled_from([None, "spring", "summer"]),
    "amount": st.integers(0, 500).map(float),
})
bounds = st.one_of(st.none(), st.integers(0, 120).map(lambda n: T0 + n * D))


@settings(max_examples=100, deadline=None)
@given(events=st.lists(event, max_size=25), spend=st.lists(spend_row, max_size=12),
       by=st.sampled_from([None, "channel", "campaign"]),
       period=st.sampled_from(["day", "week", "month", "quarter", "year"]),
       new_event=st.sampled_from(["purchase", "signup"]), since=bounds, until=bounds)
def test_cac_equals_reference(shared_store, events, spend, by, period, new_event, since, until):
    if since is not None and until is not None and since >= until:
        until = None
    load_journey(shared_store, events)
    load_spend(shared_store, spend)
    got = cac(shared_store, by=by, period=period, new_customer_event=new_event, since=since, until=until)
    want = reference_cac(events, spend, by, period, new_event, since, until)
    assert got.rows == want  # whole amounts: the sums are exact
    total_spend = sum(r["spend"] for r in want)
    total_new = sum(r["new_customers"] for r in want)
    assert got.total == {"spend": total_spend, "new_customers": total_new,
                         "cac": pytest.approx(total_spend / total_new) if total_new else None}


# -- worked example and edge cases ---------------------------------------------------------------


def test_worked_example(journey_store):
    day = dt.datetime(2024, 3, 1)
    store = journey_store([
        {"person_id": "ann", "timestamp": day, "event": "view", "channel": "ads",
         "properties": {"campaign": "spring"}},
        {"person_id": "ann", "timestamp": day + D, "event": "purchase", "channel": "web"},
        {"person_id": "ann", "timestamp": day + 40 * D, "event": "purchase", "channel": "web"},  # not new again
        {"person_id": "bob", "timestamp": day + 2 * D, "event": "purchase", "channel": "web"},
        {"person_id": "cat", "timestamp": day + 35 * D, "event": "purchase", "channel": "ads"},
        {"person_id": "dan", "timestamp": day + 3 * D, "event": "view", "channel": "ads"},  # never buys
    ])
    load_spend(store, [
        {"date": dt.date(2024, 3, 1), "channel": "ads", "campaign": "spring", "amount": 300.0},
        {"date": dt.date(2024, 3, 20), "channel": "web", "campaign": None, "amount": 100.0},
        {"date": dt.date(2024, 4, 2), "channel": "ads", "campaign": "spring", "amount": 50.0},
        {"date": dt.date(2024, 4, 3), "channel": "tv", "campaign": None, "amount": 80.0},
    ])
    r = cac(store, by="channel", period="month")
    assert r.rows == [
        {"period": "2024-03-01", "channel": "ads", "spend": 300.0, "new_customers": 1, "cac": 300.0},
        {"period": "2024-03-01", "channel": "web", "spend": 100.0, "new_customers": 1, "cac": 100.0},
        {"period": "2024-04-01", "channel": "ads", "spend": 50.0, "new_customers": 1, "cac": 50.0},
        {"period": "2024-04-01", "channel": "tv", "spend": 80.0, "new_customers": 0, "cac": None},
    ]
    assert r.total == {"spend": 530.0, "new_customers": 3, "cac": pytest.approx(530 / 3)}
    camp = cac(store, by="campaign", period="quarter")
    assert camp.rows == [
        {"period": "2024-01-01", "campaign": NO_GROUP, "spend": 100.0, "new_customers": 1, "cac": 100.0},
        {"period": "2024-01-01", "campaign": "spring", "spend": 300.0, "new_customers": 1, "cac": 300.0},
        {"period": "2024-04-01", "campaign": NO_GROUP, "spend": 80.0, "new_customers": 1, "cac": 80.0},
        {"period": "2024-04-01", "campaign": "spring", "spend": 50.0, "new_customers": 0, "cac": None},
    ]
    # ann's first purchase is before since: she is not new in April.
    april = cac(store, by=None, period="month", since="2024-04-01")
    assert april.rows == [{"period": "2024-04-01", "spend": 130.0, "new_customers": 1, "cac": 130.0}]
    assert list(april.to_frame().columns) == ["period", "spend", "new_customers", "cac"]


def test_empty_and_errors(journey_store):
    store = journey_store([])
    r = cac(store)
    assert r.rows == [] and r.total == {"spend": 0.0, "new_customers": 0, "cac": None}
    with pytest.raises(AnalysisError, match="period must be one of"):
        cac(store, period="fortnight")
    with pytest.raises(AnalysisError, match="by must be one of"):
        cac(store, by="touchpoint")
    with pytest.raises(AnalysisError, match="must be before"):
        cac(store, since="2024-02-01", until="2024-01-01")
