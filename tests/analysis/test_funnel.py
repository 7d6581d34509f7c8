"""Funnels: the engine equals a slow plain-Python reference, plus worked examples."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis._common import Step, as_steps, parse_duration
from parcours.analysis.funnel import Exclusion, funnel, funnel_people, funnel_trends
from parcours.errors import AnalysisError

from .conftest import T0, complete, load_customers, load_journey

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


# -- the reference: one customer at a time, every rule spelled out ----------------------


def reference_attempts(evs, steps, window, order):
    """Each attempt as the list of indexes (into evs, sorted by time then seq) of its steps."""
    attempts = []
    for i, e in enumerate(evs):
        if order == "unordered":
            if not any(s.matches_dict(e) for s in steps):
                continue
            end = e["timestamp"] + window
            found = []
            for s in steps:  # each step's first event at the same time or later, within the window
                hits = [j for j, f in enumerate(evs) if e["timestamp"] <= f["timestamp"] <= end and s.matches_dict(f)]
                if hits:
                    found.append(hits[0])
            attempts.append(sorted(found))
            continue
        if not steps[0].matches_dict(e):
            continue
        end = e["timestamp"] + window
        chosen = [i]
        for s in steps[1:]:
            last = evs[chosen[-1]]["timestamp"]
            hits = [
                j for j, f in enumerate(evs)
                if j not in chosen and last <= f["timestamp"] <= end and s.matches_dict(f)
            ]
            if not hits:
                break
            nxt = evs[hits[0]]["timestamp"]
            if order == "strict" and any(last < f["timestamp"] < nxt for f in evs):
                break
            chosen.append(hits[0])
        attempts.append(chosen)
    return attempts


def reference_funnel(events, steps, window="14d", order="ordered", exclude=(), per="customer",
                     by=None, attribution="first_touch", since=None, until=None):
    steps = as_steps(steps)
    window = parse_duration(window)
    exclusions = [Exclusion.parse(x, len(steps)) for x in exclude]
    who = {"customer": "person_id", "account": "account_id"}[per]
    journeys = defaultdict(list)
    for e in complete(events):
        if e.get(who) is not None:
            journeys[e[who]].append(e)
    best = {}
    for key, evs in journeys.items():
        evs.sort(key=lambda e: (e["timestamp"], e["seq"]))
        attempts = [
            a for a in reference_attempts(evs, steps, window, order)
            if (since is None or evs[a[0]]["timestamp"] >= since) and (until is None or evs[a[0]]["timestamp"] < until)
        ]
        if not attempts:
            continue
        top = max(len(a) for a in attempts)
        chosen = next(a for a in attempts if len(a) == top)  # the earliest of the furthest
        times = [evs[j]["timestamp"] for j in chosen]
        if any(_excluded(evs, x, times, window) for x in exclusions):
            continue
        if attribution == "last_touch":
            at = chosen[-1]
        else:
            n = 0 if attribution == "first_touch" else int(attribution.split(":")[1])
            at = chosen[n] if n < len(chosen) else None
        value = None if at is None or by is None else evs[at].get(by)
        best[key] = (times, value)
    return best


def _excluded(evs, x, times, window):
    if len(times) <= x.start:
        return False
    lo = times[x.start]
    for f in evs:
        if f["event"] != x.event or not lo < f["timestamp"]:
            continue
        if (f["timestamp"] < times[x.end]) if len(times) > x.end else (f["timestamp"] <= times[0] + window):
            return True
    return False


def summarise(best, n_steps):
    """[(count, average, median)] per step, from {customer: (times, value)}."""
    out = []
    for k in range(n_steps):
        done = [t for t, _ in best.values() if len(t) > k]
        secs = [(t[k] - t[k - 1]).total_seconds() for t in done] if k else []
        out.append((len(done), statistics.fmean(secs) if secs else None, statistics.median(secs) if secs else None))
    return out


def engine_summary(steps):
    return [(s.count, s.average_seconds, s.median_seconds) for s in steps]


def same(a, b):
    assert len(a) == len(b)
    for (c1, a1, m1), (c2, a2, m2) in zip(a, b):
        assert c1 == c2
        assert (a1 is None) == (a2 is None) and (a1 is None or a1 == pytest.approx(a2))
        assert (m1 is None) == (m2 is None) and (m1 is None or m1 == pytest.approx(m2))


# -- random journeys --------------------------------------------------------------------

NAMES = ["a", "a", "b", "b", "c", "x"]
ACCOUNTS = {"p1": "A", "p2": "A", "p3": "B", "p4": None}

event = st.fixed_dictionaries({
    "person_id": st.sampled_from(["p1", "p1", "p2", "p3", "p4"]),
    "timestamp": st.integers(0, 12).map(lambda n: T0 + n * 30 * M),  # many ties
    "event": st.sampled_from(NAMES),
    "channel": st.sampled_from([None, "web", "app"]),
}).map(lambda e: {**e, "account_id": ACCOUNTS[e["person_id"]]})
# Sizes drawn uniformly so that long journeys (and conversions) are common, empty ones too.
journeys = st.integers(0, 30).flatmap(lambda n: st.lists(event, min_size=n, max_size=n))
step = st.one_of(
    st.sampled_from(["a", "b", "a", "b", "c"]),
    st.builds(lambda n, c: Step(event=n, channel=c), st.sampled_from(["a", "b", "c"]), st.sampled_from(["web", "app"])),
)


@st.composite
def funnels(draw):
    steps = draw(st.lists(step, min_size=1, max_size=4))
    exclude = []
    if len(steps) >= 2 and draw(st.booleans()):
        start = draw(st.integers(0, len(steps) - 2))
        end = draw(st.integers(start + 1, len(steps) - 1))
        exclude = [f"{draw(st.sampled_from(['x', 'c']))}:{start}:{end}"]
    bound = st.one_of(st.none(), st.none(), st.integers(0, 12).map(lambda n: T0 + n * 30 * M))
    return {
        "since": draw(bound),
        "until": draw(bound),
        "steps": steps,
        "window": draw(st.sampled_from(["1h", "2h", "3h", "90m"])),
        "order": draw(st.sampled_from(["ordered", "strict", "unordered"])),
        "exclude": exclude,
        "per": draw(st.sampled_from(["customer", "customer", "account"])),
    }


@settings(max_examples=150, deadline=None)
@given(events=journeys, params=funnels(), attribution=st.sampled_from(["first_touch", "last_touch", "step:1"]))
def test_funnel_equals_reference(shared_store, events, params, attribution):
    load_journey(shared_store, events)
    if attribution == "step:1" and len(params["steps"]) < 2:
        attribution = "first_touch"
    got = funnel(shared_store, by="channel", attribution=attribution, **params)
    want = reference_funnel(events, by="channel", attribution=attribution, **params)
    n = len(params["steps"])
    same(engine_summary(got.steps), summarise(want, n))
    values = {v for _, v in want.values()}
    assert {b.value for b in got.breakdown} == values
    for b in got.breakdown:
        part = {k: tv for k, tv in want.items() if tv[1] == b.value}
        same(engine_summary(b.steps), summarise(part, n))
    # counts are cumulative and conversions follow from them
    counts = [s.count for s in got.steps]
    assert counts == sorted(counts, reverse=True)
    for s, prev in zip(got.steps[1:], got.steps):
        assert s.conversion_from_previous == (s.count / prev.count if prev.count else None)


# Short journeys of one customer with few names: "something in between" matters often.
short_journeys = st.lists(
    st.builds(lambda n, name: {"person_id": "p1", "timestamp": T0 + n * 30 * M, "event": name},
              st.integers(0, 6), st.sampled_from(["a", "b", "c", "x"])),
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(events=short_journeys, steps=st.sampled_from([["a", "b"], ["a", "b", "c"], ["a", "b", "a"], ["a", "a"]]),
       window=st.sampled_from(["1h", "2h"]))
def test_strict_equals_reference(shared_store, events, steps, window):
    load_journey(shared_store, events)
    for order in ("strict", "ordered"):
        got = funnel(shared_store, steps, window=window, order=order)
        same(engine_summary(got.steps), summarise(reference_funnel(events, steps, window, order), len(steps)))


@settings(max_examples=40, deadline=None)
@given(events=journeys, params=funnels(), period=st.sampled_from(["day", "week", "month"]))
def test_people_and_trends_agree_with_the_funnel(shared_store, events, params, period):
    load_journey(shared_store, events)
    total = funnel(shared_store, **params)
    want = reference_funnel(events, **params)
    for k in range(len(params["steps"])):
        people = funnel_people(shared_store, step=k, **params).people
        assert [p["id"] for p in people] == sorted(w for w, (t, _) in want.items() if len(t) > k)
        dropped = funnel_people(shared_store, step=k, dropped=True, **params).people
        assert [p["id"] for p in dropped] == sorted(w for w, (t, _) in want.items() if len(t) == k + 1)
        first = funnel_people(shared_store, step=k, limit=1, **params)
        assert (first.total, first.people) == (len(people), people[:1])
    # All test events fall in one day, week and month: the single period is the whole funnel.
    trends = funnel_trends(shared_store, period=period, **params)
    if total.steps[0].count:
        assert len(trends.periods) == 1
        assert engine_summary(trends.periods[0]["steps"]) == engine_summary(total.steps)
    else:
        assert trends.periods == []


# Journeys over four days: trends must pick each period's best attempt on its own.
spread_event = st.fixed_dictionaries({
    "person_id": st.sampled_from(["p1", "p1", "p2", "p3"]),
    "timestamp": st.integers(0, 40).map(lambda n: T0 + n * 2 * H),
    "event": st.sampled_from(NAMES),
})


@settings(max_examples=60, deadline=None)
@given(events=st.lists(spread_event, max_size=30), steps=st.lists(step, min_size=1, max_size=3),
       window=st.sampled_from(["3h", "12h", "1d", "3d"]), order=st.sampled_from(["ordered", "strict", "unordered"]))
def test_trends_per_day_equal_the_reference_per_day(shared_store, events, steps, window, order):
    load_journey(shared_store, events)
    got = {p["period"]: engine_summary(p["steps"])
           for p in funnel_trends(shared_store, steps, period="day", window=window, order=order).periods}
    want = {}
    for day in sorted({e["timestamp"].date() for e in events}):
        lo = dt.datetime.combine(day, dt.time())
        best = reference_funnel(events, steps, window, order, since=lo, until=lo + dt.timedelta(days=1))
        if best:
            want[day.isoformat()] = summarise(best, len(steps))
    assert got.keys() == want.keys()
    for day in want:
        same(got[day], want[day])


# -- worked examples --------------------------------------------------------------------


def ev(person, minutes, name, **kw):
    return {"person_id": person, "timestamp": T0 + minutes * M, "event": name, **kw}


def counts(result):
    return [s.count for s in result.steps]


def test_worked_example(journey_store):
    store = journey_store([
        ev("ann", 0, "view"), ev("ann", 10, "cart"), ev("ann", 70, "buy"),
        ev("bob", 0, "view"), ev("bob", 30, "cart"),
        ev("cat", 0, "cart"), ev("cat", 5, "view"),  # cart before view: not a conversion
        ev("dan", 0, "view"), ev("dan", 15 * 24 * 60, "cart"),  # cart outside the 14-day window
    ])
    r = funnel(store, ["view", "cart", "buy"])
    assert counts(r) == [4, 2, 1]
    d = r.to_dict()
    assert [s["conversion_from_previous"] for s in d["steps"]] == [None, 0.5, 0.5]
    assert [s["conversion_from_first"] for s in d["steps"]] == [1.0, 0.5, 0.25]
    assert d["steps"][1]["average_seconds"] == 20 * 60 and d["steps"][1]["median_seconds"] == 20 * 60
    assert d["steps"][2]["average_seconds"] == 60 * 60
    assert d["steps"][0]["average_seconds"] is None
    assert sum(b["count"] for b in d["time_to_convert"][0]["bins"]) == 2
    assert counts(funnel(store, ["view", "cart", "buy"], order="unordered")) == [4, 3, 1]
    assert len(r.to_frame()) == 3


def test_later_attempt_wins_and_window_is_inclusive(journey_store):
    store = journey_store([
        ev("ann", 0, "view"), ev("ann", 200, "view"), ev("ann", 260, "cart"),
        ev("bob", 0, "view"), ev("bob", 60, "cart"),
    ])
    r = funnel(store, ["view", "cart"], window="1h")
    assert counts(r) == [2, 2]
    assert r.steps[1].average_seconds == 3600


def test_same_timestamp_is_taken_in_step_order(journey_store):
    store = journey_store([ev("ann", 0, "cart"), ev("ann", 0, "view"), ev("bob", 0, "view")])
    assert counts(funnel(store, ["view", "cart"])) == [2, 1]
    # one event fills one step: a single view is not view -> view
    assert counts(funnel(store, ["view", "view"])) == [2, 0]


def test_strict_breaks_on_any_event_between(journey_store):
    store = journey_store([
        ev("ann", 0, "view"), ev("ann", 5, "scroll"), ev("ann", 10, "cart"),
        ev("bob", 0, "view"), ev("bob", 10, "cart"), ev("bob", 10, "scroll"),
    ])
    assert counts(funnel(store, ["view", "cart"], order="strict")) == [2, 1]
    assert counts(funnel(store, ["view", "cart"], order="ordered")) == [2, 2]


def test_exclusion_removes_from_the_whole_funnel(journey_store):
    store = journey_store([
        ev("ann", 0, "view"), ev("ann", 5, "refund"), ev("ann", 10, "cart"),
        ev("bob", 0, "view"), ev("bob", 5, "refund"),  # never reaches cart: refund in window
        ev("cat", 0, "view"), ev("cat", 10, "cart"), ev("cat", 20, "refund"),  # after step 1
    ])
    assert counts(funnel(store, ["view", "cart"], exclude=["refund:0:1"])) == [1, 1]
    with pytest.raises(AnalysisError):
        funnel(store, ["view", "cart"], exclude=["refund:1:1"])


def test_per_account_different_people(journey_store):
    store = journey_store([
        ev("ann", 0, "view", account_id="acme"), ev("bob", 10, "buy", account_id="acme"),
    ])
    assert counts(funnel(store, ["view", "buy"])) == [1, 0]
    assert counts(funnel(store, ["view", "buy"], per="account")) == [1, 1]


def test_step_conditions_stages_and_attribute_breakdown(journey_store):
    store = journey_store([
        ev("ann", 0, "view", channel="web", stage="awareness", properties={"plan": "pro"}),
        ev("ann", 10, "buy", channel="store", stage="purchase"),
        ev("bob", 0, "view", channel="app", stage="awareness", properties={"plan": "free"}),
    ])
    assert counts(funnel(store, [{"event": "view", "properties": {"plan": "pro"}}, "buy"])) == [1, 1]
    assert counts(funnel(store, [Step("view", channel="app"), "buy"])) == [1, 0]
    assert counts(funnel(store, ["awareness", "purchase"], stages=True)) == [2, 1]
    assert counts(funnel(store, stages=["awareness", "purchase"])) == [2, 1]
    assert [s.name for s in funnel(store, stages=["awareness", "purchase"]).steps] == ["awareness", "purchase"]
    assert funnel(store, [Step("view", channel="app")]).steps[0].name == "view [channel=app]"
    by_last = funnel(store, ["view", "buy"], by="channel", attribution="last_touch").to_dict()
    assert {b["value"]: b["steps"][0]["count"] for b in by_last["breakdown"]} == {"store": 1, "app": 1}
    load_customers(store, [{"customer_id": "ann", "attributes": {"segment": "vip"}}])
    seg = funnel(store, ["view", "buy"], by="attributes.segment").to_dict()
    assert {b["value"]: [s["count"] for s in b["steps"]] for b in seg["breakdown"]} == {"vip": [1, 1], None: [1, 0]}


def test_since_until_and_trends_by_week(journey_store):
    store = journey_store([
        ev("ann", 0, "view"), ev("ann", 10, "buy"),
        ev("bob", 7 * 24 * 60, "view"),
    ])
    # since/until bound when attempts start; a later step may come after until.
    assert counts(funnel(store, ["view", "buy"], since=T0 + 5 * M)) == [1, 0]
    assert counts(funnel(store, ["view", "buy"], until=T0 + 5 * M)) == [1, 1]
    assert counts(funnel(store, ["view", "buy"], since="2024-03-04", until="2024-03-05")) == [1, 1]
    t = funnel_trends(store, ["view", "buy"], period="week").to_dict()
    assert [(p["period"], [s["count"] for s in p["steps"]]) for p in t["periods"]] == [
        ("2024-03-04", [1, 1]), ("2024-03-11", [1, 0])
    ]


def test_empty_and_bad_parameters(journey_store):
    store = journey_store([])
    r = funnel(store, ["view", "buy"], by="channel")
    assert counts(r) == [0, 0] and r.breakdown == []
    assert r.to_dict()["steps"][0]["conversion_from_first"] is None
    assert funnel_people(store, ["view"]).people == []
    assert funnel_trends(store, ["view"]).periods == []
    for bad in ({"window": "2x"}, {"order": "any"}, {"per": "team"}, {"attribution": "step:5"}):
        with pytest.raises(AnalysisError):
            funnel(store, ["view", "buy"], **bad)
    with pytest.raises(AnalysisError):
        funnel(store, [])


def test_property_conditions_are_typed(journey_store):
    store = journey_store([
        ev("ann", 0, "view", properties={"n": 3, "vip": True, "plan": "1"}),
        ev("bob", 0, "view", properties={"n": "3", "vip": 1, "plan": 1}),
    ])
    for props, n in (({"n": 3}, 1), ({"n": "3"}, 1), ({"vip": True}, 1), ({"plan": "1"}, 1), ({"plan": 2}, 0)):
        step = Step("view", properties=props)
        assert counts(funnel(store, [step])) == [n], props
