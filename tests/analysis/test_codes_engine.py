"""The fast engines (journey_events codes, numpy) give the same results as the portable ones
(Ibis over journey_view), on real stores built by import + refresh from random journeys.

The portable engines are themselves checked against plain-Python references in
test_funnel.py, test_paths.py and test_kpis.py; equality here carries that over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.analysis import journey_codes as jc
from parcours.analysis.funnel import funnel, funnel_people, funnel_trends
from parcours.analysis.paths import paths, transitions
from parcours.errors import AnalysisError
from parcours.journey import parse_model, refresh

from .conftest import scratch_store

MODEL = parse_model("""
name: test
stages:
  - {id: s0, labels: {fr: S0, en: S0}}
  - {id: s2, labels: {fr: S2, en: S2}}
  - {id: s1, labels: {fr: S1, en: S1}}
rules:
  - {stage: s1, event: b}
  - {stage: s2, event: [c, buy]}
  - {stage: s0, event: a, channel: web}
path:
  order: [s0, s1, s2]
""")
T0 = dt.datetime(2024, 3, 4, 8, 0)
M = dt.timedelta(minutes=1)
COLS = ["event_id", "customer_id", "anonymous_id", "account_id", "timestamp", "event", "channel",
        "touchpoint", "properties", "_seq"]

raw_event = st.fixed_dictionaries({
    "who": st.sampled_from([("c1", None), ("c2", None), ("c3", None), (None, "a1"), ("c4", "a2")]),
    "minute": st.integers(0, 12),  # few distinct times: ties broken by _seq
    "event": st.sampled_from(["a", "b", "c", "buy", "x"]),
    "channel": st.sampled_from([None, "web", "app"]),
    "touchpoint": st.sampled_from([None, "home", "cart"]),
    "account_id": st.sampled_from([None, "acc1", "acc2"]),
    "properties": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"plan": st.sampled_from(["pro", 1])})),
})
journeys = st.lists(raw_event, max_size=30)


def build(store, raw: list[dict]):
    """Import the events (in list order) and assign stages: a real journey_events table."""
    rows = [[f"e{i}", r["who"][0], r["who"][1], r["account_id"], T0 + r["minute"] * M, r["event"],
             r["channel"], r["touchpoint"], None if r["properties"] is None else json.dumps(r["properties"]), i]
            for i, r in enumerate(raw)]
    if rows:
        store.con.executemany(f"INSERT INTO events ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})", rows)
    refresh(store, MODEL)
    return store


@contextlib.contextmanager
def sliced(parts: int = 3):
    """Customers cut into ``parts`` slices that run on threads, even in these small tables."""
    old = jc.PARALLEL_MIN_ROWS, jc.SLICE_MIN_ROWS, jc.workers
    jc.PARALLEL_MIN_ROWS, jc.SLICE_MIN_ROWS, jc.workers = 0, 1, (lambda: parts)
    try:
        yield
    finally:
        jc.PARALLEL_MIN_ROWS, jc.SLICE_MIN_ROWS, jc.workers = old


def both(fn, store, **kw):
    """The result of ``fn`` with each engine, as dicts; the codes engine also in slices."""
    fast = fn(store, engine="codes", **kw).to_dict()
    with sliced():
        assert fn(store, engine="codes", **kw).to_dict() == fast
    return fast, fn(store, engine="portable", **kw).to_dict()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=40).map(sorted), st.integers(1, 5), st.integers(0, 3))
def test_customer_slices_cover_the_rows_and_never_split_a_customer(groups, parts, min_rows):
    g = np.array(groups, dtype=np.int64)
    slices = jc.customer_slices(g, parts=parts, min_rows=min_rows)
    assert [s.start for s in slices] == [0] + [s.stop for s in slices[:-1]]
    assert slices[-1].stop == len(g) and all(s.stop > s.start for s in slices[1:]) and len(slices) <= parts
    for s in slices[1:]:
        assert g[s.start] != g[s.start - 1]
    if parts > 1 and len(g) >= min_rows and len(g) and g[-1] != g[len(g) // parts - 1]:
        assert len(slices) >= 2  # a customer changes after the first cut: it is used


step = st.one_of(
    st.sampled_from(["a", "b", "c", "buy", "zzz"]),
    st.builds(lambda e, ch: {"event": e, "channel": ch}, st.sampled_from(["a", "b", "buy"]), st.sampled_from(["web", "app"])),
    st.builds(lambda e, tp: {"event": e, "touchpoint": tp}, st.sampled_from(["a", "c"]), st.sampled_from(["home", "cart"])),
    st.builds(lambda e, p: {"event": e, "properties": {"plan": p}}, st.sampled_from(["a", "b"]), st.sampled_from(["pro", 1, "1"])),
    st.builds(lambda s: {"stage": s}, st.sampled_from(["s0", "s1", "s2"])),
)
bound = st.one_of(st.none(), st.none(), st.integers(0, 12).map(lambda n: T0 + n * M))


@st.composite
def funnel_params(draw):
    steps = draw(st.lists(step, min_size=1, max_size=4))
    exclude = []
    if len(steps) >= 2 and draw(st.booleans()):
        exclude = [f"{draw(st.sampled_from(['x', 'c']))}:0:{len(steps) - 1}"]
    return {"steps": steps, "exclude": exclude, "since": draw(bound), "until": draw(bound),
            "window": draw(st.sampled_from(["3m", "5m", "1h"])),
            "order": draw(st.sampled_from(["ordered", "strict", "unordered"])),
            "per": draw(st.sampled_from(["customer", "customer", "account"]))}


HYP = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@HYP
@given(journeys, funnel_params(), st.sampled_from([None, "channel", "stage", "event", "touchpoint"]),
       st.sampled_from(["first_touch", "last_touch"]))
def test_funnel_engines_agree(raw, params, by, attribution):
    with scratch_store() as s:
        build(s, raw)
        fast, portable = both(funnel, s, by=by, attribution=attribution, **params)
        assert fast == portable
        assert both(funnel_trends, s, period="day", **params)[0] == both(funnel_trends, s, period="day", **params)[1]
        for k in range(len(params["steps"])):
            for dropped in (False, True):
                a, b = both(funnel_people, s, step=k, dropped=dropped, **params)
                assert a == b


@HYP
@given(journeys, st.sampled_from(["event", "stage", "touchpoint", "channel"]),
       st.sampled_from([None, None, "a", "s1", "home", "web"]), st.sampled_from([None, None, "b", "s0", "cart", "app"]),
       st.sampled_from([None, None, 1, 2, 3]), st.sampled_from([0.0, 0.0, 0.4]),
       st.sampled_from(["customer", "customer", "account"]), bound, bound)
def test_paths_engines_agree(raw, by, start, end, depth, min_share, per, since, until):
    with scratch_store() as s:
        build(s, raw)
        kw = dict(by=by, start=start, end=end, depth=depth, min_share=min_share, per=per, since=since, until=until)
        fast, portable = both(paths, s, top=3, **kw)
        assert fast == portable
        t_fast, t_portable = both(transitions, s, by=by, min_share=min_share, per=per, since=since, until=until)
        assert t_fast == t_portable
        if start is None and end is None and depth is None:
            assert t_fast["transitions"] == fast["transitions"] and t_fast["customers"] == fast["customers"]


def test_a_shadowing_view_is_sorted_not_trusted(tmp_path):
    """A TEMP view named journey_events (a segment scope) is read through ORDER BY."""
    from parcours.data.store import Store

    raw = [{"who": (f"c{i % 3}", None), "minute": (7 * i) % 5, "event": "abc"[i % 3], "channel": "web",
            "touchpoint": None, "account_id": None, "properties": None} for i in range(30)]
    with Store(tmp_path / "s.duckdb") as s:
        build(s, raw)
        whole = paths(s, engine="portable").to_dict()
        assert paths(s, engine="codes").to_dict() == whole
        db = s.scalar("SELECT current_database()")
        s.con.execute(f'CREATE TEMP VIEW journey_events AS SELECT * FROM "{db}".main.journey_events '
                      "WHERE person_key <> 1 ORDER BY seq DESC")
        s.con.execute(f'CREATE TEMP VIEW journey_view AS SELECT * FROM "{db}".main.journey_view')
        scoped = paths(s, engine="codes").to_dict()
        assert scoped == paths(s, engine="portable").to_dict() and scoped != whole
        steps = ["a", "b", "c"]
        assert funnel(s, steps, engine="codes").to_dict() == funnel(s, steps, engine="portable").to_dict()


def test_worked_example_and_engine_errors(tmp_path):
    from parcours.data.store import Store

    raw = [{"who": (c, None), "minute": m, "event": e, "channel": None, "touchpoint": None,
            "account_id": None, "properties": None}
           for c, m, e in [("c1", 0, "a"), ("c1", 1, "b"), ("c1", 2, "a"), ("c1", 3, "b"), ("c2", 0, "a"), ("c2", 0, "b")]]
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(AnalysisError):
            paths(s, engine="codes")  # no journey tables yet
        build(s, raw)
        r = transitions(s, engine="codes")
        assert r.customers == 2
        assert r.transitions == [{"from": "a", "to": "b", "count": 3, "customers": 2},
                                 {"from": "b", "to": "a", "count": 1, "customers": 1}]
        assert [x.count for x in funnel(s, ["a", "b"], engine="codes").steps] == [2, 2]
        assert [p["id"] for p in funnel_people(s, ["a", "b"], step=1, engine="codes").people] == ["c1", "c2"]
        with pytest.raises(AnalysisError):
            paths(s, engine="fastest")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(journeys, st.sampled_from([None, "channel", "attributes.segment"]), bound, bound,
       st.sampled_from([None, "2m", "1h"]))
def test_kpis_engines_agree(raw, by, since, until, window):
    from parcours.analysis.kpis import stage_kpis

    with scratch_store() as s:
        build(s, raw)
        s.con.execute("""INSERT INTO customers VALUES ('c1', NULL, NULL, '{"segment": "vip"}'),
                         ('c2', NULL, NULL, '{"segment": "new"}')""")
        kw = dict(by=by, since=since, until=until, conversion_window=window)
        a = stage_kpis(s, MODEL, engine="codes", **kw).to_dict()
        assert a == stage_kpis(s, MODEL, engine="portable", **kw).to_dict()
