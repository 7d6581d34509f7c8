"""Identity stitching: worked cases, and identity_map against a naive graph-search reference."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.data.identity import META_HASH, _resolve_fast, add_links, resolve, stitch
from parcours.data.store import Store

T0 = dt.datetime(2024, 1, 1)


def ts(minutes):
    return None if minutes is None else T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


_seq = iter(range(1, 10**9))


def event(store, customer=None, anon=None, minute=0, name="page_view", account=None):
    n = next(_seq)
    store.con.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, 'web', NULL, NULL, NULL, NULL, ?, 1)",
        [f"e{n}", customer, anon, account, ts(minute), name, n])


def link(store, alias, customer, source="identify", minute=0):
    store.con.execute("INSERT INTO identities VALUES (?, ?, ?, ?, NULL, NULL)",
                      [alias, customer, source, ts(minute)])


def customer(store, cid, account=None):
    store.con.execute("INSERT INTO customers VALUES (?, ?, NULL, '{}')", [cid, account])


def id_map(store) -> dict[tuple[str, str], str]:
    return {(i, k): p for i, k, p in store.fetch("SELECT id, id_kind, person_id FROM identity_map")}


def person(store, id_, kind="anonymous"):
    return id_map(store)[(id_, kind)]


def statuses(store):
    return store.fetch("SELECT alias_id, customer_id, source, status, reason FROM identities "
                       "ORDER BY timestamp, alias_id, customer_id, source")


# -- worked cases ------------------------------------------------------------------------------


def test_empty_store(store):
    rep = stitch(store)
    assert rep.links == 0 and rep.ids == 0
    assert store.fetch("SELECT * FROM identity_map") == []
    assert store.meta(META_HASH) == rep.hash


def test_anonymous_then_identify(store):
    event(store, anon="a1", minute=0)
    event(store, anon="a1", minute=1)
    link(store, "a1", "c1", minute=2)
    event(store, customer="c1", minute=3, name="purchase")
    event(store, anon="a9", minute=4)  # never linked
    rep = stitch(store)
    assert id_map(store) == {("a1", "anonymous"): "c1", ("c1", "customer"): "c1",
                             ("a9", "anonymous"): "anon:a9"}
    assert rep.links == 1 and rep.accepted == 1 and rep.refused == 0 and rep.persons == 2
    assert statuses(store) == [("a1", "c1", "identify", "accepted", None)]
    # events are never rewritten
    assert store.fetch("SELECT count(*) FROM events WHERE anonymous_id = 'a1' AND customer_id IS NULL") == [(2,)]


def test_link_from_an_event_carrying_both_ids(store):
    event(store, anon="a1", minute=0)
    event(store, customer="c1", anon="a1", minute=1)
    rep = stitch(store)
    assert person(store, "a1") == "c1" and rep.links == 1 and rep.accepted == 1
    assert statuses(store) == []  # accepted event links are not copied into identities


def test_two_devices_of_one_customer(store):
    event(store, anon="phone", minute=0)
    event(store, anon="laptop", minute=1)
    link(store, "phone", "c1", minute=2)
    link(store, "laptop", "c1", minute=3)
    stitch(store)
    assert person(store, "phone") == person(store, "laptop") == person(store, "c1", "customer") == "c1"


def test_alias(store):
    # Segment's classic alias: the anonymous id (or an old user id nobody else knows) -> userId
    event(store, anon="a1", minute=0)
    event(store, customer="u1", minute=5)
    link(store, "a1", "u1", source="alias", minute=1)
    link(store, "legacy-42", "u1", source="alias", minute=2)
    rep = stitch(store)
    m = id_map(store)
    assert m[("a1", "anonymous")] == "u1"
    assert m[("legacy-42", "customer")] == "u1"  # a previousId of an alias is a user id
    assert rep.refused == 0


def test_alias_of_a_known_customer_is_a_merge(store):
    # old-id is a customer once a1 -> old-id is accepted; renaming it into new@x (who has events)
    # would merge two known customers: refused unless forced
    event(store, anon="a1", minute=0)
    event(store, customer="new@x", minute=5)
    link(store, "a1", "old-id", minute=1)
    link(store, "old-id", "new@x", source="alias", minute=2)
    assert stitch(store).refused == 1
    assert person(store, "a1") == "old-id"
    assert stitch(store, force=True).forced == 1
    assert person(store, "a1") == person(store, "old-id", "customer") == "new@x"


def test_refused_merge_of_two_known_customers(store):
    event(store, customer="c1", anon="a1", minute=0)
    event(store, customer="c2", anon="a2", minute=1)
    link(store, "c1", "c2", source="alias", minute=2)
    rep = stitch(store)
    assert rep.refused == 1
    [(alias, cust, source, status, reason)] = statuses(store)
    assert status == "refused" and "c1" in reason and "c2" in reason
    assert reason.startswith("would merge customers c1 and c2")
    assert rep.refusals[0]["reason"] == reason
    m = id_map(store)
    assert m[("c1", "customer")] == m[("a1", "anonymous")] == "c1"
    assert m[("c2", "customer")] == m[("a2", "anonymous")] == "c2"


def test_known_from_customers_table(store):
    customer(store, "c1")
    event(store, customer="c2", minute=0)
    link(store, "c1", "c2", source="alias", minute=1)
    assert stitch(store).refused == 1


def test_forced_merge_with_add_links(store):
    event(store, customer="c1", anon="a1", minute=0)
    event(store, customer="c2", anon="a2", minute=1)
    rep = add_links(store, [{"alias_id": "c1", "customer_id": "c2", "source": "alias",
                             "timestamp": "2024-01-01T00:05:00Z"}])
    assert rep.added == 1 and rep.stitch.refused == 1
    assert person(store, "c1", "customer") == "c1"
    rep = add_links(store, [{"alias_id": "c1", "customer_id": "c2", "source": "alias"}], force=True)
    assert rep.added == 0 and rep.duplicates == 1
    assert rep.stitch.refused == 0 and rep.stitch.forced == 1
    m = id_map(store)
    assert {m[("c1", "customer")], m[("a1", "anonymous")], m[("c2", "customer")],
            m[("a2", "anonymous")]} == {"c2"}  # the link's customer is the person
    [(_, _, _, status, reason)] = statuses(store)
    assert status == "accepted" and reason.startswith("forced: merged customers c1 and c2")
    # a forced link stays forced on later stitches
    h = store.meta(META_HASH)
    rep = stitch(store)
    assert not rep.changed and store.meta(META_HASH) == h and rep.forced == 1
    assert person(store, "a1") == "c2"


def test_forced_merge_with_stitch(store):
    event(store, customer="c1", minute=0)
    event(store, customer="c2", minute=1)
    link(store, "c2", "c1", source="alias", minute=2)
    assert stitch(store).refused == 1
    rep = stitch(store, force=True)
    assert rep.forced == 1 and rep.refused == 0
    assert person(store, "c2", "customer") == "c1"
    assert stitch(store).forced == 1 and person(store, "c2", "customer") == "c1"


def test_shared_device_first_link_wins(store):
    event(store, anon="tablet", minute=0)
    event(store, customer="alice", minute=0)
    event(store, customer="bob", minute=0)
    # inserted out of order: time decides, not insertion
    link(store, "tablet", "bob", minute=20)
    link(store, "tablet", "alice", minute=10)
    rep = stitch(store)
    assert person(store, "tablet") == "alice"
    assert rep.refused == 1
    refused = [r for r in statuses(store) if r[3] == "refused"]
    assert refused == [("tablet", "bob", "identify", "refused",
                        "would merge customers alice and bob: tablet belongs to customer alice, "
                        "the link points to customer bob")]


def test_refused_event_links_are_recorded(store):
    event(store, customer="alice", anon="tablet", minute=0)
    event(store, customer="bob", anon="tablet", minute=5)
    event(store, customer="bob", anon="tablet", minute=6)
    rep = stitch(store)
    assert rep.refused == 1 and person(store, "tablet") == "alice"
    assert [r[:4] for r in statuses(store)] == [("tablet", "bob", "event", "refused")]
    # re-stitching does not duplicate it, and the map does not change
    rep2 = stitch(store)
    assert not rep2.changed and rep2.refused == 1
    assert store.fetch("SELECT count(*) FROM identities") == [(1,)]


def test_unknown_link_target_becomes_known(store):
    # x is no customer anywhere, but once a1 -> x is accepted, x is a customer: a1 -> y is refused
    link(store, "a1", "x", minute=0)
    link(store, "a1", "y", minute=1)
    rep = stitch(store)
    assert rep.refused == 1 and person(store, "a1") == "x"
    assert person(store, "y", "customer") == "y"


def test_hash_changes_only_when_the_map_does(store):
    event(store, anon="a1")
    r1 = stitch(store)
    assert r1.changed
    assert not stitch(store).changed
    link(store, "a1", "c1", minute=1)
    r3 = stitch(store)
    assert r3.changed and store.meta(META_HASH) == r3.hash != r1.hash


def test_b2b_keeps_person_granularity(store):
    customer(store, "u1", account="acme")
    customer(store, "u2", account="acme")
    event(store, customer="u1", anon="d1", account="acme")
    event(store, customer="u2", anon="d2", account="acme")
    stitch(store)
    m = id_map(store)
    assert m[("d1", "anonymous")] == "u1" and m[("d2", "anonymous")] == "u2"
    assert "acme" not in m.values()


def test_add_links_rejects_malformed(store):
    rep = add_links(store, [{"alias_id": "a"}, {"alias_id": "a", "customer_id": "c" * 300},
                            {"alias_id": "a", "customer_id": "c", "timestamp": "never"},
                            {"alias_id": "a", "customer_id": "c"}, "oops"])
    assert [(r["row"], r["column"]) for r in rep.rejects] == [
        (1, "customer_id"), (2, "customer_id"), (3, "timestamp"), (5, None)]
    assert rep.added == 1 and person(store, "a") == "c"
    assert add_links(store, [{"alias_id": "a", "customer_id": "c"}]).duplicates == 1


def test_stitch_is_atomic(store, monkeypatch):
    event(store, customer="c1", anon="a1")
    stitch(store)
    before = id_map(store)
    link(store, "a2", "c1", minute=1)
    import parcours.data.identity as identity

    def boom(*a, **k):
        raise RuntimeError("crash in the middle")

    monkeypatch.setattr(identity.Store, "set_meta", boom)
    with pytest.raises(RuntimeError):
        stitch(store)
    assert id_map(store) == before


# -- reference ---------------------------------------------------------------------------------


def reference(events, customers, identities, force=False):
    """Plain Python: links in order, components found by graph search over accepted links."""
    known = {c for c, _, _ in events if c} | set(customers)
    pairs: dict[tuple[str, str], int] = {}
    for c, a, m in events:
        if c and a:
            pairs[(a, c)] = min(m, pairs.get((a, c), m))
    links = [(m, 0, a, c, s, i) for i, (a, c, s, m) in enumerate(identities)]
    links += [(m, 1, a, c, "event", -1) for (a, c), m in pairs.items()]
    links.sort(key=lambda l: (l[0] is None, l[0] or 0, l[1], l[2], l[3], l[4], l[5]))
    adj: dict[str, set] = {}
    label = {k: k for k in known}  # node -> person id

    def component(x):
        seen, todo = {x}, [x]
        while todo:
            for y in adj.get(todo.pop(), ()):
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        return seen

    refused = []
    for m, origin, a, c, s, i in links:
        ca, cc = component(a), component(c)
        pc = next((label[x] for x in cc if x in label), c)
        pa = next((label[x] for x in ca if x in label), None)
        if a not in cc and pa is not None and pa != pc and not force:
            refused.append((a, c, s))
            continue
        adj.setdefault(a, set()).add(c)
        adj.setdefault(c, set()).add(a)
        for x in ca | cc:
            label[x] = pc
    ids = {(c, "customer") for c, _, _ in events if c} | {(a, "anonymous") for _, a, _ in events if a}
    ids |= {(c, "customer") for c in customers}
    ids |= {(c, "customer") for _, c, _, _ in identities}
    ids |= {(a, "customer" if s == "alias" else "anonymous") for a, _, s, _ in identities}
    out = {}
    for x, kind in ids:
        out[(x, kind)] = label.get(x) or (x if kind == "customer" else "anon:" + x)
    return out, sorted(refused)


CUST = st.sampled_from(["c0", "c1", "c2", "c3"])
ANON = st.sampled_from(["a0", "a1", "a2", "a3", "a4"])
MINUTE = st.integers(0, 4)
events_st = st.lists(st.tuples(st.none() | CUST, st.none() | ANON, MINUTE)
                     .filter(lambda e: e[0] or e[1]), max_size=8)
identities_st = st.lists(st.tuples(ANON | CUST | st.just("p0"), CUST | st.just("n0"),
                                   st.sampled_from(["identify", "alias", "manual"]),
                                   st.none() | MINUTE), max_size=8)


@settings(max_examples=120, deadline=None)
@given(events=events_st, customers=st.lists(CUST | st.just("c9"), max_size=3, unique=True),
       identities=identities_st, force=st.booleans())
def test_identity_map_equals_reference(events, customers, identities, force):
    s = Store(":memory:")
    try:
        for c, a, m in events:
            event(s, customer=c, anon=a, minute=m)
        for c in customers:
            customer(s, c)
        for a, c, src, m in identities:
            link(s, a, c, source=src, minute=m)
        expected, refused = reference(events, customers, identities, force)
        rep = stitch(s, force=force)
        assert id_map(s) == expected
        got = sorted(s.fetch("SELECT alias_id, customer_id, source FROM identities WHERE status = 'refused'"))
        assert got == refused
        assert rep.refused == len(refused)
        # a second stitch (forced links now sticky, refused event links stored) changes nothing
        rep2 = stitch(s)
        assert id_map(s) == expected and not rep2.changed
    finally:
        s.close()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 12), data=st.data(), force=st.booleans())
def test_fast_path_equals_ordered_loop(n, data, force):
    known = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    m = data.draw(st.integers(0, 20))
    a = data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    c = data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    forced = data.draw(st.lists(st.booleans(), min_size=m, max_size=m))
    p1, s1, k1 = resolve(n, known, a, c, forced, force)
    p2, s2, k2 = _resolve_fast(n, np.array(known, dtype=bool), np.array(a, dtype=np.int64),
                               np.array(c, dtype=np.int64), np.array(forced, dtype=bool), force)
    assert list(p1) == [int(x) for x in p2]
    assert list(s1) == [int(x) for x in s2]
    assert k1 == k2


def test_scale_100k_links(store):
    store.con.execute("""INSERT INTO identities
        SELECT 'a' || CASE WHEN i % 100 = 0 THEN i + 1 ELSE i END, 'c' || (i // 3), 'identify',
               TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND, NULL, NULL FROM range(100000) t(i)""")
    store.con.execute("""INSERT INTO events
        SELECT 'e' || i, CASE WHEN i % 2 = 0 THEN 'c' || (i // 3) END, 'a' || i, NULL,
               TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND, 'x', 'web', NULL, NULL, NULL, NULL, i, 1
        FROM range(200000) t(i)""")
    t = time.perf_counter()
    rep = stitch(store)
    assert time.perf_counter() - t < 10
    assert rep.links > 100000 and rep.refused > 0
    assert person(store, "a5") == "c1"  # a5 -> c1 (identify, then its own events)
    assert person(store, "a100") == "c33"  # only linked by its event
    assert person(store, "a201") == "c66"  # a201 -> c66 first, a201 -> c67 refused
    assert ("a201", "c67", "identify") in {(r["alias_id"], r["customer_id"], r["source"])
                                           for r in rep.refusals}
    assert person(store, "a150001") == "anon:a150001"  # odd: no customer on its event
