"""Attribution: paths, heuristic credit and Markov removal effects against plain-Python references."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.attribution import (
    NO_TOUCH, _sql_transition_counts, attribution, load_paths, markov_removal_effects, transition_counts)
from parcours.errors import AnalysisError

from .conftest import T0, complete, load_journey

M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)
HEURISTICS = ("first", "last", "linear", "time_decay", "position")


# -- the reference: one person at a time, every rule spelled out --------------------------


def touch_of(e, touch):
    if touch == "campaign":
        return (e.get("properties") or {}).get("campaign")
    return e.get(touch)


def reference_paths(events, conversion, touch, lookback):
    """[(touches, times, converted, conversion_time, value)] per person, in time order."""
    people = defaultdict(list)
    for e in complete(events):
        if e.get("person_id") is not None:
            people[e["person_id"]].append(e)
    out = []
    for person in sorted(people):
        evs = sorted(people[person], key=lambda e: (e["timestamp"], e["seq"]))
        pending = []  # (touch, time) since the previous conversion
        for e in evs:
            if e["event"] == conversion:
                kept = [(t, ts) for t, ts in pending if e["timestamp"] - ts <= lookback]
                out.append((tuple(t for t, _ in kept), tuple(ts for _, ts in kept), True, e["timestamp"],
                            float(e.get("value") or 0.0)))
                pending = []
            elif touch_of(e, touch) is not None:
                pending.append((touch_of(e, touch), e["timestamp"]))
        if pending:
            last = pending[-1][1]
            kept = [(t, ts) for t, ts in pending if last - ts <= lookback]
            out.append((tuple(t for t, _ in kept), tuple(ts for _, ts in kept), False, None, 0.0))
    return out


def reference_weights(touches, times, conv_time, model, half_life):
    n = len(touches)
    if model == "first":
        return [1.0 if i == 0 else 0.0 for i in range(n)]
    if model == "last":
        return [1.0 if i == n - 1 else 0.0 for i in range(n)]
    if model == "linear":
        return [1.0 / n] * n
    if model == "position":
        if n <= 2:
            return [1.0 / n] * n
        return [0.4 if i in (0, n - 1) else 0.2 / (n - 2) for i in range(n)]
    raw = [2.0 ** (-(conv_time - t) / half_life) for t in times]
    return [w / sum(raw) for w in raw]


def reference_heuristic(paths, model, half_life=7 * D):
    conv, value = defaultdict(float), defaultdict(float)
    for touches, times, converted, conv_time, v in paths:
        if not converted:
            continue
        if not touches:
            conv[NO_TOUCH] += 1
            value[NO_TOUCH] += v
            continue
        for t, w in zip(touches, reference_weights(touches, times, conv_time, model, half_life)):
            conv[t] += w
            value[t] += w * v
    return conv, value


def chain_states(touches, order):
    collapsed = [t for i, t in enumerate(touches) if i == 0 or touches[i - 1] != t]
    return [tuple(collapsed[max(0, i - order + 1): i + 1]) for i in range(len(collapsed))]


def absorption(paths, order, removed=None):
    """P(reach conversion from start) by value iteration on the empirical chain.

    Transitions into a state containing ``removed`` go to null instead.
    """
    counts = defaultdict(lambda: defaultdict(int))
    for touches, _, converted, _, _ in paths:
        if not touches:
            continue
        chain = ["start", *chain_states(touches, order), "conv" if converted else "null"]
        for a, b in zip(chain, chain[1:]):
            counts[a][b] += 1
    if not counts:
        return 0.0
    prob = {s: {t: c / sum(outs.values()) for t, c in outs.items()} for s, outs in counts.items()}
    x = {s: 0.0 for s in prob}
    for _ in range(200_000):
        new = {}
        for s, outs in prob.items():
            total = 0.0
            for t, p in outs.items():
                if t == "conv":
                    total += p
                elif t == "null" or (removed is not None and removed in t):
                    continue
                else:
                    total += p * x[t]
            new[s] = total
        delta = max(abs(new[s] - x[s]) for s in x)
        x = new
        if delta < 1e-15:
            break
    return x["start"]


def reference_markov(paths, order):
    base = absorption(paths, order)
    channels = sorted({t for p in paths for t in p[0]})
    effects = {c: (0.0 if base == 0 else 1 - absorption(paths, order, c) / base) for c in channels}
    conv, value = defaultdict(float), defaultdict(float)
    touched = [p for p in paths if p[2] and p[0]]
    s = sum(effects.values())
    for c, e in effects.items():
        conv[c] += (e / s if s else 0.0) * len(touched)
        value[c] += (e / s if s else 0.0) * sum(p[4] for p in touched)
    for p in paths:
        if p[2] and not p[0]:
            conv[NO_TOUCH] += 1
            value[NO_TOUCH] += p[4]
    return base, effects, conv, value


def as_tuples(paths):
    return [(p.touches, p.times, p.converted, p.conversion_time, p.value) for p in paths]


def by_channel(result):
    return {r["channel"]: r for r in result.channels}


def same_credit(result, conv, value):
    got = by_channel(result)
    assert set(got) == set(conv)
    for c in conv:
        assert got[c]["conversions"] == pytest.approx(conv[c], abs=1e-9)
        assert got[c]["value"] == pytest.approx(value[c], abs=1e-6)


# -- random event sets ---------------------------------------------------------------------

event = st.fixed_dictionaries({
    "person_id": st.sampled_from(["p1", "p1", "p2", "p3"]),
    "timestamp": st.integers(0, 16).map(lambda n: T0 + n * 6 * 60 * M),  # 6-hour steps, many ties
    "event": st.sampled_from(["view", "view", "click", "buy"]),
    "channel": st.sampled_from([None, "web", "email", "ads", "ads"]),
    "touchpoint": st.sampled_from([None, "home", "cart"]),
    "value": st.sampled_from([None, 10.0, 25.0]),
    "properties": st.sampled_from([None, {"campaign": "spring"}, {"campaign": "summer"}, {}]),
})
events_lists = st.integers(0, 24).flatmap(lambda n: st.lists(event, min_size=n, max_size=n))
lookbacks = st.sampled_from(["6h", "12h", "1d", "2d", "30d"])


@settings(max_examples=120, deadline=None)
@given(events=events_lists, touch=st.sampled_from(["channel", "channel", "touchpoint", "campaign"]),
       lookback=lookbacks)
def test_paths_equal_reference(shared_store, events, touch, lookback):
    load_journey(shared_store, events)
    from parcours.analysis._common import parse_duration

    want = reference_paths(events, "buy", touch, parse_duration(lookback))
    assert as_tuples(load_paths(shared_store, "buy", touch, lookback)) == want


@settings(max_examples=80, deadline=None)
@given(events=events_lists, model=st.sampled_from(HEURISTICS), lookback=lookbacks,
       half_life=st.sampled_from(["7d", "6h", "1d"]))
def test_heuristics_equal_reference(shared_store, events, model, lookback, half_life):
    load_journey(shared_store, events)
    from parcours.analysis._common import parse_duration

    paths = reference_paths(events, "buy", "channel", parse_duration(lookback))
    conv, value = reference_heuristic(paths, model, parse_duration(half_life))
    got = attribution(shared_store, "buy", "channel", model, lookback, half_life=half_life)
    same_credit(got, conv, value)
    converting = [p for p in paths if p[2]]
    assert got.conversions == len(converting)
    assert got.value == pytest.approx(sum(p[4] for p in converting))
    assert sum(r["conversions"] for r in got.channels) == pytest.approx(len(converting))


@settings(max_examples=80, deadline=None)
@given(events=events_lists, order=st.sampled_from([1, 1, 2, 3]), lookback=lookbacks)
def test_markov_equals_brute_force_chain(shared_store, events, order, lookback):
    load_journey(shared_store, events)
    from parcours.analysis._common import parse_duration

    paths = reference_paths(events, "buy", "channel", parse_duration(lookback))
    base, effects, conv, value = reference_markov(paths, order)
    got_base, got_effects = markov_removal_effects(load_paths(shared_store, "buy", "channel", lookback), order)
    assert got_base == pytest.approx(base, abs=1e-9)
    assert got_effects == pytest.approx(effects, abs=1e-9)
    # the database's transition counts are the Python ones over the same paths
    python = transition_counts(load_paths(shared_store, "buy", "channel", lookback), order)
    sql, _ = _sql_transition_counts(shared_store, "buy", "channel", lookback, order)
    assert {a: dict(b) for a, b in sql.items()} == {a: dict(b) for a, b in python.items()}
    got = attribution(shared_store, "buy", "channel", "markov", lookback, order=order)
    same_credit(got, conv, value)
    for c, row in by_channel(got).items():
        assert row["removal_effect"] == (None if c == NO_TOUCH else pytest.approx(effects[c], abs=1e-9))


# -- worked examples, computed by hand ----------------------------------------------------


def ev(person, minutes, name, channel=None, **kw):
    return {"person_id": person, "timestamp": T0 + minutes * M, "event": name, "channel": channel, **kw}


def test_markov_worked_example(journey_store):
    # paths: A→B→conv (value 10), A→null, B→conv (value 20); repeats collapse (A A B = A B).
    store = journey_store([
        ev("p1", 0, "view", "A"), ev("p1", 1, "view", "A"), ev("p1", 2, "view", "B"), ev("p1", 3, "buy", value=10.0),
        ev("p2", 0, "view", "A"),
        ev("p3", 0, "view", "B"), ev("p3", 5, "buy", value=20.0),
    ])
    # P(S→A) = 2/3, P(S→B) = 1/3, P(A→B) = P(A→null) = 1/2, P(B→conv) = 1:
    # P(conv) = 2/3·1/2 + 1/3 = 2/3; without A: 1/3 (effect 1/2); without B: 0 (effect 1).
    base, effects = markov_removal_effects(load_paths(store, "buy"))
    assert base == pytest.approx(2 / 3)
    assert effects == pytest.approx({"A": 0.5, "B": 1.0})
    got = by_channel(attribution(store, "buy"))
    assert got["A"]["conversions"] == pytest.approx(2 / 3) and got["A"]["value"] == pytest.approx(10.0)
    assert got["B"]["conversions"] == pytest.approx(4 / 3) and got["B"]["value"] == pytest.approx(20.0)
    assert got["A"]["removal_effect"] == pytest.approx(0.5)


def test_second_order_markov_worked_example(journey_store):
    # A→B→conv, C→B→null: first order, B's conversion rate is 1/2 whoever came before it;
    # second order, (A,B) converts and (C,B) does not, so removing C changes nothing.
    store = journey_store([
        ev("p1", 0, "view", "A"), ev("p1", 1, "view", "B"), ev("p1", 2, "buy"),
        ev("p2", 0, "view", "C"), ev("p2", 1, "view", "B"),
    ])
    paths = load_paths(store, "buy")
    base1, eff1 = markov_removal_effects(paths, 1)
    assert base1 == pytest.approx(0.5)
    assert eff1 == pytest.approx({"A": 0.5, "B": 1.0, "C": 0.5})
    base2, eff2 = markov_removal_effects(paths, 2)
    assert base2 == pytest.approx(0.5)
    assert eff2 == pytest.approx({"A": 1.0, "B": 1.0, "C": 0.0})


def test_repeats_collapse_before_higher_order_states(journey_store):
    # B B → null and A B B → conversion. Collapsed, order 2: (B) → null, (A) → (A,B) → conversion,
    # so without A nothing converts (effect 1). Uncollapsed, the state (B,B) would be shared by
    # both paths and A's effect would drop to 1/2.
    store = journey_store([
        ev("p1", 0, "view", "B"), ev("p1", 1, "view", "B"),
        ev("p2", 0, "view", "A"), ev("p2", 1, "view", "B"), ev("p2", 2, "view", "B"), ev("p2", 3, "buy"),
    ])
    base, effects = markov_removal_effects(load_paths(store, "buy"), order=2)
    assert base == pytest.approx(0.5) and effects == pytest.approx({"A": 1.0, "B": 1.0})
    got = by_channel(attribution(store, "buy", order=2))
    assert got["A"]["removal_effect"] == pytest.approx(1.0) and got["A"]["conversions"] == pytest.approx(0.5)


def test_heuristics_worked_example(journey_store):
    day = 24 * 60
    store = journey_store([
        ev("p1", 0, "view", "email"), ev("p1", day, "view", "web"), ev("p1", 2 * day, "view", "ads"),
        ev("p1", 3 * day, "buy", value=100.0),
    ])

    def credit(model):
        return {c: round(r["conversions"], 6) for c, r in by_channel(attribution(store, "buy", model=model)).items()}

    assert credit("first") == {"email": 1.0, "web": 0.0, "ads": 0.0}
    assert credit("last") == {"email": 0.0, "web": 0.0, "ads": 1.0}
    assert credit("linear") == {"email": 0.333333, "web": 0.333333, "ads": 0.333333}
    assert credit("position") == {"email": 0.4, "web": 0.2, "ads": 0.4}
    # ages 3, 2 and 1 days, half-life 7 days: 2^(-3/7), 2^(-2/7), 2^(-1/7) = .742997, .820335, .905724
    assert credit("time_decay") == {"email": 0.300924, "web": 0.332247, "ads": 0.36683}
    assert by_channel(attribution(store, "buy", model="position"))["web"]["value"] == pytest.approx(20.0)


def test_lookback_and_previous_conversion_cut_paths(journey_store):
    day = 24 * 60
    store = journey_store([
        ev("p1", 0, "view", "old"),             # 31 days before the first purchase: outside 30d
        ev("p1", day, "view", "email"),
        ev("p1", 31 * day, "buy", "web"),       # a conversion's own channel is not a touch
        ev("p1", 31 * day, "view", "ads"),      # same time, later seq: after the purchase
        ev("p1", 32 * day, "buy", value=5.0),
        ev("p1", 40 * day, "view", "social"),   # after the last purchase: a non-converting path
    ])
    paths = as_tuples(load_paths(store, "buy"))
    assert [(p[0], p[2]) for p in paths] == [(("email",), True), (("ads",), True), (("social",), False)]
    assert [p[0] for p in as_tuples(load_paths(store, "buy", lookback="40d"))][0] == ("old", "email")


def test_edge_cases(journey_store):
    empty = journey_store([])
    r = attribution(empty, "buy")
    assert (r.conversions, r.value, r.channels) == (0, 0.0, [])
    assert list(r.to_frame().columns) == ["channel", "conversions", "value", "removal_effect"]

    never = journey_store([ev("p1", 0, "view", "web"), ev("p2", 0, "view", "ads")])
    r = attribution(never, "buy")
    assert r.conversions == 0
    assert {c["channel"]: (c["conversions"], c["removal_effect"]) for c in r.channels} == {
        "web": (0.0, 0.0), "ads": (0.0, 0.0)}
    assert attribution(never, "buy", model="linear").channels == []

    untouched = journey_store([ev("p1", 0, "buy", value=7.0), ev("p2", 0, "view", "web"), ev("p2", 1, "buy")])
    for model in ("markov", *HEURISTICS):
        got = by_channel(attribution(untouched, "buy", model=model))
        assert got[NO_TOUCH]["conversions"] == 1 and got[NO_TOUCH]["value"] == 7.0
        assert got["web"]["conversions"] == pytest.approx(1.0)
    assert by_channel(attribution(untouched, "buy"))[NO_TOUCH]["removal_effect"] is None

    single = journey_store([ev("p1", 0, "view", "web"), ev("p1", 1, "view", "web"), ev("p1", 2, "buy")])
    for model in ("markov", *HEURISTICS):
        assert by_channel(attribution(single, "buy", model=model))["web"]["conversions"] == pytest.approx(1.0)


def test_errors(journey_store):
    store = journey_store([ev("p1", 0, "buy")])
    with pytest.raises(AnalysisError, match="model must be one of"):
        attribution(store, "buy", model="shapley")
    with pytest.raises(AnalysisError, match="touch must be one of"):
        attribution(store, "buy", touch="device")
    with pytest.raises(AnalysisError, match="order must be"):
        attribution(store, "buy", order=0)
    with pytest.raises(AnalysisError, match="invalid duration"):
        attribution(store, "buy", lookback="soon")


def test_to_dict_is_json_ready(journey_store):
    import json

    store = journey_store([ev("p1", 0, "view", "web"), ev("p1", 1, "buy", value=3.0)])
    d = json.loads(json.dumps(attribution(store, "buy", model="linear").to_dict()))
    assert d["model"] == "linear" and d["conversions"] == 1
    assert d["channels"] == [{"channel": "web", "conversions": 1.0, "value": 3.0}]
