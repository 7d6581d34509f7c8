"""Paths: the engine equals a slow plain-Python reference, plus worked examples."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.paths import MATRIX_DEPTH, paths
from parcours.errors import AnalysisError

from .conftest import T0, complete, load_journey

M = dt.timedelta(minutes=1)
STAGES = {"s0": 0, "s1": 1, "s2": 2}


def collapse(items):
    return [x for i, x in enumerate(items) if i == 0 or items[i - 1] != x]


def journeys_of(events, who="person_id"):
    out = defaultdict(list)
    for e in sorted(complete(events), key=lambda e: (e["timestamp"], e["seq"])):
        if e.get(who) is not None:
            out[e[who]].append(e)
    return out


def reference_paths(events, by="event", start=None, end=None, depth=None, min_share=0.0,
                    conversion_event="purchase"):
    everyone = journeys_of(events)
    seqs = {}
    for who, evs in everyone.items():
        items = [e[by] for e in evs if e.get(by) is not None]
        if by == "stage":
            items = collapse(items)
        if start is not None:
            if start not in items:
                continue
            items = items[items.index(start):]
        if end is not None:
            hits = [i for i, x in enumerate(items) if x == end and (i > 0 or start is None)]
            if hits:
                items = items[: hits[0] + 1]
        if items:
            seqs[who] = items
    total = len(seqs)
    keep = lambda n: n >= min_share * total  # noqa: E731

    pairs, pair_people = Counter(), defaultdict(set)
    matrix, flows = defaultdict(set), defaultdict(set)
    variants, converted = Counter(), Counter()
    loops, returns = defaultdict(set), Counter()
    for who, items in seqs.items():
        shown = items if depth is None else items[:depth]
        for a, b in zip(shown, shown[1:]):
            pairs[a, b] += 1
            pair_people[a, b].add(who)
        head = items[: depth or MATRIX_DEPTH]
        for k, x in enumerate(head):
            matrix[k, x].add(who)
        for k, (a, b) in enumerate(zip(head, head[1:])):
            flows[k, a, b].add(who)
        path = tuple(collapse(items)[:depth] if depth else collapse(items))
        variants[path] += 1
        converted[path] += any(e["event"] == conversion_event for e in everyone[who])
        seen = set()
        for x in collapse(items):
            if x in seen:
                loops[x].add(who)
                returns[x] += 1
            seen.add(x)

    backward = Counter()
    backward_people = defaultdict(set)
    for who, evs in everyone.items():
        stages = collapse([(e["stage"]) for e in evs if e.get("stage") is not None])
        for a, b in zip(stages, stages[1:]):
            if STAGES[b] < STAGES[a]:
                backward[a, b] += 1
                backward_people[a, b].add(who)
    return {
        "customers": total,
        "transitions": {p: (n, len(pair_people[p])) for p, n in pairs.items() if keep(len(pair_people[p]))},
        "step_matrix": {key: len(v) for key, v in matrix.items()},
        "flows": {key: len(v) for key, v in flows.items() if keep(len(v))},
        "variants": {p: (n, converted[p]) for p, n in variants.items() if keep(n)},
        "loops": {x: (len(v), returns[x]) for x, v in loops.items()},
        "backward_moves": {p: (n, len(backward_people[p])) for p, n in backward.items()},
    }


def engine_view(r):
    return {
        "customers": r.customers,
        "transitions": {(t["from"], t["to"]): (t["count"], t["customers"]) for t in r.transitions},
        "step_matrix": {(m["step"], m["item"]): m["customers"] for m in r.step_matrix},
        "flows": {(f["step"], f["from"], f["to"]): f["customers"] for f in r.flows},
        "variants": {tuple(v["path"]): (v["customers"], v["converted"]) for v in r.variants},
        "loops": {x["item"]: (x["customers"], x["returns"]) for x in r.loops},
        "backward_moves": {(b["from"], b["to"]): (b["count"], b["customers"]) for b in r.backward_moves},
    }


event = st.builds(
    lambda p, n, name, stage, tp: {
        "person_id": p, "timestamp": T0 + n * M, "event": name, "stage": stage,
        "stage_index": STAGES.get(stage), "touchpoint": tp, "channel": "web" if n % 2 else "app",
    },
    st.sampled_from(["p1", "p1", "p2", "p3", None]),
    st.integers(0, 8),
    st.sampled_from(["a", "b", "c", "purchase"]),
    st.sampled_from(["s0", "s1", "s2", None]),
    st.sampled_from(["home", "cart", None]),
)
journeys = st.integers(0, 25).flatmap(lambda n: st.lists(event, min_size=n, max_size=n))


@settings(max_examples=60, deadline=None)
@given(
    events=journeys,
    by=st.sampled_from(["event", "stage", "touchpoint", "channel"]),
    start=st.sampled_from([None, None, "a", "s1", "home", "web"]),
    end=st.sampled_from([None, None, "b", "s0", "cart", "app"]),
    depth=st.sampled_from([None, None, 1, 2, 3]),
    min_share=st.sampled_from([0.0, 0.0, 0.4]),
)
def test_paths_equal_reference(shared_store, events, by, start, end, depth, min_share):
    load_journey(shared_store, events)
    got = paths(shared_store, by=by, start=start, end=end, depth=depth, min_share=min_share, top=10_000)
    want = reference_paths(events, by, start, end, depth, min_share)
    assert engine_view(got) == want
    for m in got.step_matrix:
        assert m["share"] == pytest.approx(m["customers"] / got.customers)
    sankey = got.sankey()
    assert len(sankey["node"]["label"]) == len(got.step_matrix)
    assert all(len(v) == len(sankey["link"]["source"]) for v in sankey["link"].values())


def ev(person, minutes, name, stage=None, **kw):
    return {"person_id": person, "timestamp": T0 + minutes * M, "event": name, "stage": stage,
            "stage_index": STAGES.get(stage), **kw}


def test_worked_example(journey_store):
    store = journey_store([
        ev("ann", 0, "view", "s0"), ev("ann", 1, "view", "s0"), ev("ann", 2, "cart", "s1"),
        ev("ann", 3, "view", "s0"), ev("ann", 4, "purchase", "s2"),
        ev("bob", 0, "view", "s0"), ev("bob", 1, "cart", "s1"),
        ev("cat", 0, "view", "s0"), ev("cat", 1, "cart", "s1"),
    ])
    r = paths(store, top=1)
    assert r.customers == 3
    assert r.transitions[0] == {"from": "view", "to": "cart", "count": 3, "customers": 3}
    assert {(t["from"], t["to"]): t["count"] for t in r.transitions}[("view", "view")] == 1
    assert r.variants == [{"path": ["view", "cart"], "customers": 2, "share": 2 / 3, "converted": 0, "conversion": 0.0}]
    assert r.loops == [{"item": "view", "customers": 1, "returns": 1}]
    assert r.backward_moves == [{"from": "s1", "to": "s0", "count": 1, "customers": 1}]
    stage = paths(store, by="stage")
    # repeated stages collapse: ann is s0 s1 s0 s2
    assert {(t["from"], t["to"]): t["count"] for t in stage.transitions} == {
        ("s0", "s1"): 3, ("s1", "s0"): 1, ("s0", "s2"): 1}
    assert paths(store, by="stage", min_share=0.5).to_frame().to_dict("records") == [
        {"from": "s0", "to": "s1", "count": 3, "customers": 3}]
    assert paths(store, start="cart", end="purchase").variants[0]["path"] == ["cart"]
    d = paths(store, depth=2).to_dict()
    assert {(m["step"], m["item"]) for m in d["step_matrix"]} == {(0, "view"), (1, "view"), (1, "cart")}


def test_empty_and_bad_parameters(journey_store):
    store = journey_store([])
    r = paths(store)
    assert r.customers == 0 and r.transitions == [] and r.sankey()["link"]["value"] == []
    with pytest.raises(AnalysisError):
        paths(store, by="colour")
    with pytest.raises(AnalysisError):
        paths(store, depth=0)
