"""Segments: the scope equals a plain-Python filter of the journeys; rules, RFM and clusters
against plain-Python references; saving is all or nothing; the scope is left on errors."""

from __future__ import annotations

import datetime as dt
import json
import operator

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.analysis import segments as sg
from parcours.analysis.clusters import journey_clusters, journey_features
from parcours.analysis.funnel import funnel
from parcours.analysis.kpis import stage_kpis
from parcours.analysis.paths import paths
from parcours.analysis.rfm import RFM_SEGMENTS, rfm, rfm_segment
from parcours.data.store import Store
from parcours.errors import AnalysisError, ConfigError
from parcours.workspace import Workspace

from .conftest import T0, complete, load_customers, load_journey

PEOPLE = [f"p{i}" for i in range(6)]
EVENTS = ["page_view", "product_view", "add_to_cart", "purchase"]
CHANNELS = ["web", "email", "store", None]
STAGES = ["awareness", "consideration", "purchase"]
LIST = "SELECT unnest(CAST(? AS VARCHAR[])) AS person_id"


@st.composite
def journeys(draw, max_events=25):
    n = draw(st.integers(0, max_events))
    out = []
    for _ in range(n):
        stage = draw(st.integers(0, len(STAGES) - 1))
        out.append({
            "person_id": draw(st.sampled_from(PEOPLE)),
            # whole minutes, few of them: ties in time are frequent
            "timestamp": T0 + dt.timedelta(minutes=draw(st.integers(0, 40)) * 30),
            "event": draw(st.sampled_from(EVENTS)),
            "channel": draw(st.sampled_from(CHANNELS)),
            "stage": STAGES[stage], "stage_index": stage,
            "value": float(draw(st.sampled_from([10, 20, 35]))),
        })
    return complete(out)


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("segments")
    full, part = Store(d / "full.duckdb"), Store(d / "part.duckdb")
    yield full, part
    full.close()
    part.close()


# -- the scope -------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=journeys(), members=st.sets(st.sampled_from(PEOPLE)))
def test_scope_equals_a_python_filter_for_funnel_and_paths(two_stores, events, members):
    full, part = two_stores
    load_journey(full, events)
    load_journey(part, [e for e in events if e["person_id"] in members])
    steps = ["product_view", "add_to_cart", "purchase"]
    with full.scoped(LIST, [sorted(members)]):
        got_funnel = funnel(full, steps, window="1d", by="channel").to_dict()
        got_paths = paths(full, by="event").to_dict()
    assert got_funnel == funnel(part, steps, window="1d", by="channel").to_dict()
    assert got_paths == paths(part, by="event").to_dict()
    # and the whole journey is back once the scope is left
    assert full.scalar("SELECT count(*) FROM journey_view") == len(events)


def test_scope_is_left_on_errors_and_does_not_nest(journey_store):
    store = journey_store(complete([{"person_id": p, "timestamp": T0, "event": "page_view"} for p in PEOPLE]))
    with pytest.raises(ZeroDivisionError):
        with store.scoped(LIST, [["p1"]]):
            assert store.scalar("SELECT count(*) FROM journey_view") == 1
            1 / 0
    assert store.scalar("SELECT count(*) FROM journey_view") == len(PEOPLE)
    assert store.scalar("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = 'journey_view'") == 0
    with store.scoped(LIST, [["p1"]]):
        with pytest.raises(ConfigError, match="do not nest"):
            with store.scoped(LIST, [["p2"]]):
                pass
        assert store.scalar("SELECT count(*) FROM journey_view") == 1
    assert store.scalar("SELECT count(*) FROM journey_view") == len(PEOPLE)


# -- a real workspace (journey layer, identity, customers, feedback) ------------------------
def make_workspace(path, events: list[dict], customers: list[dict] = (), feedback: list[dict] = ()):
    ws = Workspace.init(path)
    if customers:
        ws.import_customers(pd.DataFrame([{**c, "attributes": json.dumps(c.get("attributes") or {})}
                                          for c in customers]), refresh=False)
    if feedback:
        ws.import_feedback(pd.DataFrame(feedback), refresh=False)
    ws.import_events(pd.DataFrame(events))
    return ws


def shop_events(rng, people, start=T0):
    """Random shop journeys on the cinq-etapes template's events (stages are assigned)."""
    names = ["ad_click", "product_view", "page_view", "add_to_cart", "purchase", "order_delivered",
             "review_posted", "product_view"]
    out = []
    for p in people:
        for _ in range(rng.randint(1, 8)):
            out.append({"customer_id": p, "timestamp": start + dt.timedelta(hours=rng.randint(0, 200)),
                        "event": rng.choice(names), "channel": rng.choice(["web", "email", "store"]),
                        "value": float(rng.choice([20, 50])) if rng.random() < 0.5 else None})
    return out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), data=st.data())
def test_scope_on_the_journey_layer_equals_a_workspace_of_the_members(tmp_path_factory, seed, data):
    import random

    rng = random.Random(seed)
    people = [f"c{i}" for i in range(8)]
    members = sorted(data.draw(st.sets(st.sampled_from(people), min_size=1)))
    events = shop_events(rng, people)
    customers = [{"customer_id": p, "attributes": {"tier": rng.choice(["gold", "silver"])}} for p in people]
    feedback = [{"customer_id": p, "timestamp": T0 + dt.timedelta(days=9), "kind": "nps",
                 "score": rng.randint(0, 10)} for p in people]
    d = tmp_path_factory.mktemp("ws")
    with make_workspace(d / "all", events, customers, feedback) as ws, \
            make_workspace(d / "some", [e for e in events if e["customer_id"] in members],
                           [c for c in customers if c["customer_id"] in members],
                           [f for f in feedback if f["customer_id"] in members]) as only:
        steps = ["product_view", "add_to_cart", "purchase"]
        with ws.store.scoped(LIST, [members]):
            got = stage_kpis(ws.store, ws.model, by="attributes.tier").to_dict()
            got_funnel = funnel(ws.store, steps, window="2d", by="channel").to_dict()
            got_paths = paths(ws.store, by="stage").to_dict()
            counts = [ws.store.scalar(f"SELECT count(*) FROM {t}") for t in
                      ("persons", "journey_events", "stage_history", "person_stage", "customers", "feedback")]
        assert got == stage_kpis(only.store, only.model, by="attributes.tier").to_dict()
        assert got_funnel == funnel(only.store, steps, window="2d", by="channel").to_dict()
        assert got_paths == paths(only.store, by="stage").to_dict()
        assert counts == [only.store.scalar(f"SELECT count(*) FROM {t}") for t in
                          ("persons", "journey_events", "stage_history", "person_stage", "customers", "feedback")]


# -- rules -------------------------------------------------------------------------------------
OPS = {"=": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt,
       "<": operator.lt}


@st.composite
def rules(draw):
    """(text, spec) pairs: the rule as typed, and what the reference evaluates."""
    kind = draw(st.sampled_from(["segment", "age", "city", "did", "first_channel", "stage"]))
    if kind == "did":
        event, op, n = draw(st.sampled_from(EVENTS)), draw(st.sampled_from(list(OPS))), draw(st.integers(0, 3))
        hours = draw(st.sampled_from([None, 2, 10]))
        text = f"did {event} {op} {n}" + (f" within {hours}h" if hours else "")
        return text, ("did", event, op, n, hours)
    if kind == "age":
        op, n = draw(st.sampled_from(list(OPS))), draw(st.integers(20, 60))
        return f"age {op} {n}", ("num", "age", op, (n,))
    values = {"segment": ["b2b", "b2c"], "city": ["Paris", "Lyon", "Nice"], "first_channel": CHANNELS[:3],
              "stage": STAGES}[kind]
    op = draw(st.sampled_from(["=", "!=", "in", "not in"]))
    chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)) if "in" in op \
        else [draw(st.sampled_from(values))]
    text = f"{kind} {op} ({', '.join(chosen)})" if "in" in op else f"{kind} {op} {chosen[0]}"
    return text, ("text", kind, op, tuple(chosen))


def reference_members(events, customers, specs, match="all"):
    persons = sorted({e["person_id"] for e in events})
    latest = max((e["timestamp"] for e in events), default=None)
    attrs = {c["customer_id"]: c.get("attributes") or {} for c in customers}
    ordered = {p: sorted((e for e in events if e["person_id"] == p), key=lambda e: (e["timestamp"], e["seq"]))
               for p in persons}

    def test(value, op, wanted):
        if value is None:
            return False  # a missing value never matches, whatever the operator
        if op == "in":
            return value in wanted
        if op == "not in":
            return value not in wanted
        return OPS[op](value, wanted[0])

    def holds(p, spec):
        if spec[0] == "did":
            _, event, op, n, hours = spec
            count = sum(1 for e in ordered[p] if e["event"] == event
                        and (hours is None or e["timestamp"] > latest - dt.timedelta(hours=hours)))
            return OPS[op](count, n)
        _, name, op, wanted = spec
        if name == "first_channel":
            return test(ordered[p][0]["channel"], op, wanted)
        if name == "stage":
            return test(ordered[p][-1]["stage"], op, wanted)
        if p not in attrs:
            return False
        value = attrs[p].get(name)
        if spec[0] == "num":
            return test(None if value is None else float(value), op, tuple(float(w) for w in wanted))
        return test(value, op, wanted)

    combine = all if match == "all" else any
    return [p for p in persons if combine(holds(p, s) for s in specs)]


@st.composite
def customer_rows(draw):
    out = []
    for p in draw(st.sets(st.sampled_from(PEOPLE))):
        attributes = {}
        for key, values in (("segment", st.sampled_from(["b2b", "b2c"])), ("age", st.integers(18, 70)),
                            ("city", st.sampled_from(["Paris", "Lyon", "Nice"]))):
            if draw(st.booleans()):
                attributes[key] = draw(values)
        out.append({"customer_id": p, "attributes": attributes})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=journeys(), customers=customer_rows(), picked=st.lists(rules(), min_size=1, max_size=3),
       match=st.sampled_from(["all", "any"]))
def test_rules_equal_the_reference(two_stores, events, customers, picked, match):
    store = two_stores[0]
    load_journey(store, events)
    load_customers(store, customers)
    definition = {"rules": [text for text, _ in picked], "match": match}
    sql, params = sg.members_sql(store, definition)
    got = sorted(r[0] for r in store.fetch(sql, params))
    assert got == reference_members(events, customers, [spec for _, spec in picked], match)


def test_rule_errors_are_clear():
    for bad, message in [("", "empty"), ("age >>= 3", "invalid segment rule"), ("city in ()", "needs a list"),
                         ("did purchase within 3x", "invalid duration"),
                         ("created_at >= soon", "invalid date")]:
        with pytest.raises(AnalysisError, match=message):
            sg.parse_rule(bad)
    with pytest.raises(AnalysisError, match="unknown RFM segment"):
        sg.normalise({"kind": "rfm", "segment": "heroes"})
    with pytest.raises(AnalysisError, match="unknown segment kind"):
        sg.normalise({"kind": "magic"})


def test_worked_example_of_rules(journey_store):
    store = journey_store(complete([
        {"person_id": "ana", "timestamp": T0, "event": "page_view", "channel": "search", "stage": "awareness"},
        {"person_id": "ana", "timestamp": T0 + dt.timedelta(days=1), "event": "purchase", "channel": "web",
         "stage": "purchase"},
        {"person_id": "bob", "timestamp": T0, "event": "purchase", "channel": "store", "stage": "purchase"},
        {"person_id": "bob", "timestamp": T0, "event": "purchase", "channel": "store", "stage": "purchase"},
        {"person_id": "eve", "timestamp": T0 + dt.timedelta(days=3), "event": "page_view", "channel": "web",
         "stage": "awareness"},
    ]))
    load_customers(store, [{"customer_id": "ana", "attributes": {"segment": "b2b", "age": 41}},
                           {"customer_id": "bob", "attributes": {"segment": "b2c", "age": 29}}])

    def members(*rules, match="all"):
        sql, params = sg.members_sql(store, {"rules": list(rules), "match": match})
        return sorted(r[0] for r in store.fetch(sql, params))

    assert members("segment = b2b") == ["ana"]
    assert members("segment != b2b") == ["bob"]  # eve has no customer record: never matches
    assert members("age >= 30") == ["ana"]
    assert members("did purchase >= 2") == ["bob"]
    assert members("did purchase = 0") == ["eve"]
    assert members("did purchase within 3d") == ["ana"]  # (day 0, day 3]: the latest event is on day 3
    assert members("did purchase within 2d") == []  # (day 1, day 3]
    assert members("first_channel in (search, store)") == ["ana", "bob"]
    assert members("stage = purchase", "age < 30") == ["bob"]
    assert members("segment = b2b", "did purchase >= 2", match="any") == ["ana", "bob"]


# -- saving ------------------------------------------------------------------------------------
def test_save_list_show_drop_and_scope(journey_store):
    events = complete([{"person_id": p, "timestamp": T0 + dt.timedelta(hours=i), "event": e}
                       for i, (p, e) in enumerate([("a", "product_view"), ("a", "purchase"),
                                                   ("b", "product_view"), ("c", "purchase")])])
    store = journey_store(events)
    info = sg.save_segment(store, "buyers", "did purchase")
    assert (info.name, info.kind, info.members) == ("buyers", "rules", 2)
    assert info.definition == {"kind": "rules", "rules": ["did purchase"], "match": "all"}
    assert sg.list_segments(store).names() == ["buyers"]
    assert sg.segment_members(store, "buyers").persons == ["a", "c"]
    with sg.segment_scope(store, "buyers"):
        assert funnel(store, ["product_view", "purchase"]).to_dict()["steps"][1]["count"] == 1
        assert paths(store).customers == 2
    assert paths(store).customers == 3
    with pytest.raises(AnalysisError, match="already exists"):
        sg.save_segment(store, "buyers", "did product_view")
    assert sg.save_segment(store, "buyers", "did product_view", replace=True).members == 2
    assert sg.segment_members(store, "buyers").persons == ["a", "b"]
    # a snapshot: new events change nothing until the segment is updated
    load_journey(store, events + complete([{"person_id": "d", "timestamp": T0, "event": "product_view",
                                            "seq": 10, "event_id": "e10"}]))
    assert sg.segment_members(store, "buyers").persons == ["a", "b"]
    assert sg.update_segment(store, "buyers").members == 3
    assert sg.drop_segment(store, "buyers").name == "buyers"
    assert sg.list_segments(store).names() == []
    with pytest.raises(AnalysisError, match="unknown segment 'buyers'; no segment is saved yet"):
        sg.segment_members(store, "buyers")
    with pytest.raises(AnalysisError, match="invalid segment name"):
        sg.save_segment(store, "no spaces", "did purchase")


def test_saving_clusters_is_all_or_nothing(journey_store):
    events = []
    for i in range(12):
        n = 2 if i < 6 else 12
        events += [{"person_id": f"p{i:02}", "timestamp": T0 + dt.timedelta(hours=h), "event": "purchase" if i >= 6 else "page_view",
                    "stage": "awareness", "stage_index": 0, "value": 50.0} for h in range(n)]
    store = journey_store(complete(events))
    sg.save_segment(store, "cl-2", "did purchase")  # the second cluster's name is taken
    with pytest.raises(AnalysisError, match="'cl-2' already exists"):
        sg.save_clusters(store, "cl", 2)
    # cl-1 was written first in the same transaction: it is gone with the failure
    assert sg.list_segments(store).names() == ["cl-2"]
    assert store.scalar("SELECT count(*) FROM segment_members WHERE name = 'cl-1'") == 0
    saved = sg.save_clusters(store, "cl", 2, replace=True)
    assert [s.members for s in saved] == [6, 6]


# -- RFM ---------------------------------------------------------------------------------------
def reference_rfm(events, as_of=None):
    buys = [e for e in events if e["event"] == "purchase"]
    ref = as_of or max(e["timestamp"] for e in events)
    people = sorted({e["person_id"] for e in buys})
    rec = {p: (ref - max(e["timestamp"] for e in buys if e["person_id"] == p)).total_seconds() / 86400 for p in people}
    freq = {p: sum(1 for e in buys if e["person_id"] == p) for p in people}
    mon = {p: sum(e.get("value") or 0 for e in buys if e["person_id"] == p) for p in people}

    def score(values, better):
        n = len(values)
        # rank from worst to best, ties sharing the lowest rank
        return {p: 1 + 5 * sum(1 for q in values if better(values[p], values[q])) // n for p in values}

    r = score(rec, lambda x, y: x < y)
    f = score(freq, lambda x, y: x > y)
    m = score(mon, lambda x, y: x > y)
    return {p: (rec[p], freq[p], mon[p], r[p], f[p], m[p], rfm_segment(r[p], f[p])) for p in people}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=journeys(max_events=40), as_of=st.sampled_from([None, T0 + dt.timedelta(days=30)]))
def test_rfm_equals_the_reference(two_stores, events, as_of):
    store = two_stores[0]
    load_journey(store, events)
    if not events:
        assert rfm(store).scores == []
        return
    got = {s["person_id"]: (s["recency_days"], s["frequency"], s["monetary"], s["r"], s["f"], s["m"], s["segment"])
           for s in rfm(store, as_of=as_of).scores}
    want = reference_rfm(events, as_of)
    assert got.keys() == want.keys()
    for p in want:
        assert got[p][0] == pytest.approx(want[p][0])
        assert got[p][1:] == want[p][1:]
    # the saved RFM segment holds exactly the persons of that name
    for name in {v[-1] for v in want.values()}:
        sql, params = sg.members_sql(store, {"kind": "rfm", "segment": name, "as_of": as_of})
        assert sorted(r[0] for r in store.fetch(sql, params)) == sorted(p for p, v in want.items() if v[-1] == name)


def test_rfm_grid_covers_every_pair_with_the_usual_names():
    names = {rfm_segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(RFM_SEGMENTS)
    assert rfm_segment(5, 5) == "champions" and rfm_segment(1, 1) == "hibernating"
    assert rfm_segment(5, 1) == "new" and rfm_segment(2, 5) == "cannot_lose" and rfm_segment(1, 3) == "at_risk"


# -- clusters ------------------------------------------------------------------------------------
def planted(n_browsers=15, n_buyers=10):
    events = []
    for i in range(n_browsers):  # two awareness events, one day, one channel, nothing bought
        events += [{"person_id": f"browse{i:02}", "timestamp": T0 + dt.timedelta(minutes=m), "event": "page_view",
                    "channel": "web", "stage": "awareness", "stage_index": 0} for m in (0, 5 + i % 3)]
    for i in range(n_buyers):  # many days, three channels, purchases and value, moves back
        for d in range(10):
            events.append({"person_id": f"buy{i:02}", "timestamp": T0 + dt.timedelta(days=d, hours=i),
                           "event": "purchase" if d % 2 else "product_view",
                           "channel": ["web", "store", "email"][d % 3],
                           "stage": STAGES[2 if d % 2 else 1], "stage_index": 2 if d % 2 else 1,
                           "value": 80.0 + i if d % 2 else None})
    return complete(events)


def test_clusters_find_planted_groups_and_are_deterministic(journey_store):
    store = journey_store(planted())
    first = journey_clusters(store, 2, seed=3)
    again = journey_clusters(store, 2, seed=3)
    assert first.labels == again.labels and first.to_dict() == again.to_dict()
    assert first.members(1) == [f"browse{i:02}" for i in range(15)]  # the larger cluster is number 1
    assert first.members(2) == [f"buy{i:02}" for i in range(10)]
    top = {d["feature"]: d["direction"] for d in first.clusters[1]["distinctive"]}
    assert top and set(top.values()) == {"high"}
    assert first.clusters[1]["centre"]["purchases"] == 5.0
    with pytest.raises(AnalysisError, match="cannot make 30 clusters of 25 persons"):
        journey_clusters(store, 30)


def test_journey_features_by_hand(journey_store):
    store = journey_store(complete([
        {"person_id": "a", "timestamp": T0, "event": "product_view", "channel": "web", "stage": "consideration",
         "stage_index": 1},
        {"person_id": "a", "timestamp": T0 + dt.timedelta(days=1), "event": "purchase", "channel": "store",
         "stage": "purchase", "stage_index": 2, "value": 30.0},
        {"person_id": "a", "timestamp": T0 + dt.timedelta(days=1), "event": "page_view", "channel": None,
         "stage": "awareness", "stage_index": 0},
        {"person_id": "b", "timestamp": T0, "event": "page_view", "channel": "web", "stage": "awareness",
         "stage_index": 0},
    ]))
    f = journey_features(store)
    assert f.loc["a"].to_dict() == {"events": 3, "channels": 2, "days_active": 2, "purchases": 1, "value": 30.0,
                                    "backward_moves": 1, "events_awareness": 1, "events_consideration": 1,
                                    "events_purchase": 1}
    assert f.loc["b", "events_awareness"] == 1 and f.loc["b", "events_purchase"] == 0


def test_scope_follows_stitched_identities(tmp_path):
    """Feedback under another id of a member (an alias) and its anonymous events stay in scope."""
    t = "2024-03-04T10:00:00Z"
    events = [
        {"customer_id": None, "anonymous_id": "dev-1", "timestamp": T0, "event": "product_view"},
        {"customer_id": "ana", "anonymous_id": "dev-1", "timestamp": T0 + dt.timedelta(hours=1), "event": "purchase"},
        {"customer_id": "bob", "timestamp": T0, "event": "product_view"},
    ]
    customers = [{"customer_id": "ana", "attributes": {"tier": "gold"}},
                 {"customer_id": "bob", "attributes": {"tier": "silver"}}]
    feedback = [{"customer_id": c, "timestamp": T0 + dt.timedelta(days=1), "kind": "nps", "score": s}
                for c, s in (("ana", 10), ("ana-old", 9), ("bob", 2))]
    with make_workspace(tmp_path / "ws", events, customers, feedback) as ws:
        ws.import_segment([{"type": "alias", "previousId": "ana-old", "userId": "ana", "timestamp": t}])
        ana = ws.store.scalar("SELECT person_id FROM identity_map WHERE id = 'ana'")
        assert ws.store.scalar("SELECT person_id FROM identity_map WHERE id = 'ana-old'") == ana
        ws.save_segment("gold", "tier = gold")
        assert ws.segment("gold").persons == [ana]
        with ws.segment_scope("gold"):
            assert [r[0] for r in ws.store.fetch("SELECT customer_id FROM customers")] == ["ana"]
            assert sorted(r[0] for r in ws.store.fetch("SELECT score FROM feedback")) == [9, 10]
            assert ws.store.scalar("SELECT count(*) FROM journey_view") == 2  # the anonymous view is ana's
