"""Identity stitching: which ids (customer ids, anonymous ids) are one person.

Links come from the ``identities`` table (identify, alias, manual ...) and from events that
carry both a ``customer_id`` and an ``anonymous_id`` (source ``event``). They are processed in
timestamp order with a union-find, Segment-style:

* an anonymous id links to a customer; ``alias`` merges a previous id into a user id;
* a link that would put two different *known* customers in one person (ids seen as
  ``customer_id`` in events or customers, or already the customer of an accepted link) is
  refused, unless forced: then the person of the link's ``customer_id`` absorbs the other;
* so an anonymous id seen with two customers (a shared device) stays with the first one.

The result is ``identity_map(id, id_kind, person_id)`` for every id of events, customers and
identities; ``events`` are never rewritten. The statuses of ``identities`` rows are updated and
refused (or forced) links found on events are recorded there with source ``event``, so every
refusal can be read back. See ``docs/identity.md``.

Scale: the union-find runs in Python over the links only, on integer codes assigned in SQL;
components that hold at most one customer cannot conflict and are solved at once with
``scipy.sparse.csgraph.connected_components``; only the others go through the ordered loop.
Mapping every id of the events to its person is one SQL join.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .schema import MAX_ID
from .store import Store

META_HASH = "identity_map_hash"
#: reason of a link accepted because it was forced; it stays forced on later stitches.
FORCED = "forced"
ACCEPTED, REFUSED, FORCED_STATUS = 0, 1, 2
_MAX_REFUSALS = 100

IDENTITY_MAP_DDL = "CREATE TABLE IF NOT EXISTS identity_map (id VARCHAR, id_kind VARCHAR, person_id VARCHAR)"


@dataclass
class StitchReport:
    """What one stitch found; ``refusals`` holds the first few refused links."""

    links: int = 0
    accepted: int = 0
    refused: int = 0
    forced: int = 0
    ids: int = 0
    persons: int = 0
    changed: bool = False
    hash: str = ""
    refusals: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"links": self.links, "accepted": self.accepted, "refused": self.refused,
                "forced": self.forced, "ids": self.ids, "persons": self.persons,
                "changed": self.changed, "refusals": self.refusals}


@dataclass
class LinkReport:
    """What ``add_links`` stored, what it rejected as malformed, and the stitch that followed."""

    added: int = 0
    duplicates: int = 0
    rejects: list[dict] = field(default_factory=list)
    stitch: StitchReport = field(default_factory=StitchReport)

    def to_dict(self) -> dict:
        return {"added": self.added, "duplicates": self.duplicates, "rejected": len(self.rejects),
                "rejects": self.rejects, "stitch": self.stitch.to_dict()}


# -- the links --------------------------------------------------------------------------------

_LINKS_SQL = """
CREATE OR REPLACE TEMP TABLE _stitch_links AS
WITH idn AS (
    SELECT rowid AS rid, alias_id, customer_id, coalesce(source, 'manual') AS source,
           "timestamp" AS ts, coalesce(status = 'accepted' AND reason LIKE 'forced%', false) AS forced
    FROM identities WHERE alias_id IS NOT NULL AND customer_id IS NOT NULL
),
ev AS (
    SELECT anonymous_id AS alias_id, customer_id, min("timestamp") AS ts
    FROM events WHERE anonymous_id IS NOT NULL AND customer_id IS NOT NULL
    GROUP BY anonymous_id, customer_id
),
l AS (
    SELECT rid, alias_id, customer_id, source, ts, forced, 0 AS origin FROM idn WHERE source <> 'event'
    UNION ALL
    -- links seen on events; a stored 'event' row only carries their status (and forced flag)
    SELECT i.rid, coalesce(ev.alias_id, i.alias_id), coalesce(ev.customer_id, i.customer_id), 'event',
           coalesce(least(ev.ts, i.ts), ev.ts, i.ts), coalesce(i.forced, false), 1
    FROM ev FULL OUTER JOIN (SELECT * FROM idn WHERE source = 'event') i
      ON i.alias_id = ev.alias_id AND i.customer_id = ev.customer_id
)
SELECT row_number() OVER (ORDER BY ts ASC NULLS LAST, origin, alias_id, customer_id, source, rid) - 1 AS pos, *
FROM l
"""

_NODES_SQL = """
CREATE OR REPLACE TEMP TABLE _stitch_nodes AS
WITH ids AS (SELECT alias_id AS id FROM _stitch_links UNION SELECT customer_id FROM _stitch_links),
known AS (SELECT customer_id AS id FROM events WHERE customer_id IS NOT NULL
          UNION SELECT customer_id FROM customers WHERE customer_id IS NOT NULL)
SELECT row_number() OVER (ORDER BY ids.id) - 1 AS code, ids.id, known.id IS NOT NULL AS known
FROM ids LEFT JOIN known ON known.id = ids.id
"""

_ALL_IDS_SQL = """
SELECT DISTINCT id, id_kind FROM (
    SELECT customer_id AS id, 'customer' AS id_kind FROM events WHERE customer_id IS NOT NULL
    UNION ALL SELECT anonymous_id, 'anonymous' FROM events WHERE anonymous_id IS NOT NULL
    UNION ALL SELECT customer_id, 'customer' FROM customers WHERE customer_id IS NOT NULL
    UNION ALL SELECT customer_id, 'customer' FROM identities WHERE customer_id IS NOT NULL
    UNION ALL SELECT alias_id, CASE WHEN source = 'alias' THEN 'customer' ELSE 'anonymous' END
              FROM identities WHERE alias_id IS NOT NULL
)
"""


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def resolve(n: int, known: list[bool], a_codes: list[int], c_codes: list[int],
            forced: list[bool], force: bool = False) -> tuple[list[int], bytearray, dict[int, tuple[int, int]]]:
    """The ordered union-find on integer codes.

    Returns (canon, status, conflicts): ``canon[i]`` the person code of node ``i`` (-1: none),
    ``status[k]`` of link ``k`` (ACCEPTED, REFUSED or FORCED_STATUS), and for refused or forced
    links the pair of customers (code of the alias side's person, code of the customer side's).
    """
    parent = list(range(n))
    size = [1] * n
    canon = [i if known[i] else -1 for i in range(n)]
    status = bytearray(len(a_codes))
    conflicts: dict[int, tuple[int, int]] = {}
    for k in range(len(a_codes)):
        a, c = a_codes[k], c_codes[k]
        ra, rc = _find(parent, a), _find(parent, c)
        kc = canon[rc]
        if kc < 0:
            kc = c
        if ra == rc:
            canon[rc] = kc
            continue
        ka = canon[ra]
        if ka >= 0 and ka != kc:
            conflicts[k] = (ka, kc)
            if not (force or forced[k]):
                status[k] = REFUSED
                continue
            status[k] = FORCED_STATUS
        if size[ra] > size[rc]:
            ra, rc = rc, ra
        parent[ra] = rc
        size[rc] += size[ra]
        canon[rc] = kc
    person = [canon[_find(parent, i)] for i in range(n)]
    return person, status, conflicts


def _resolve_fast(n: int, known: np.ndarray, a: np.ndarray, c: np.ndarray, forced: np.ndarray,
                  force: bool):
    """``resolve`` with the conflict-free components solved by connected_components.

    A component (over all links) holding at most one customer (a known id or a link's
    customer_id) cannot refuse a link, whatever the order: its person is that customer. Only the
    links of the other components run through the ordered loop, in the same order.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = len(a)
    if m == 0 or n == 0:
        return np.where(known, np.arange(n), -1), np.zeros(m, dtype=np.uint8), {}
    graph = coo_matrix((np.ones(m, dtype=np.int8), (a, c)), shape=(n, n))
    ncomp, label = connected_components(graph, directed=False)
    customerish = known.copy()
    customerish[c] = True
    counts = np.bincount(label[customerish], minlength=ncomp)
    person = np.full(n, -1, dtype=np.int64)
    # components with exactly one customer: that customer is everyone's person
    single = counts == 1
    cust_nodes = np.nonzero(customerish & single[label])[0]
    comp_person = np.full(ncomp, -1, dtype=np.int64)
    comp_person[label[cust_nodes]] = cust_nodes
    in_single = single[label]
    person[in_single] = comp_person[label[in_single]]
    status = np.zeros(m, dtype=np.uint8)
    conflicts: dict[int, tuple[int, int]] = {}
    multi = counts > 1
    if multi.any():
        link_sel = np.nonzero(multi[label[a]])[0]  # positions, still in order
        nodes = np.nonzero(multi[label])[0]
        local = np.full(n, -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        sub_person, sub_status, sub_conf = resolve(
            len(nodes), known[nodes].tolist(), local[a[link_sel]].tolist(),
            local[c[link_sel]].tolist(), forced[link_sel].tolist(), force)
        sp = np.asarray(sub_person, dtype=np.int64)
        person[nodes] = np.where(sp >= 0, nodes[np.maximum(sp, 0)], -1)
        status[link_sel] = np.frombuffer(bytes(sub_status), dtype=np.uint8)
        for k, (x, y) in sub_conf.items():
            conflicts[int(link_sel[k])] = (int(nodes[x]), int(nodes[y]))
    return person, status, conflicts


# -- stitching ----------------------------------------------------------------------------------


def _stitch(store: Store, con, force: bool) -> StitchReport:
    report = StitchReport()
    con.execute(_LINKS_SQL)
    con.execute(_NODES_SQL)
    n = con.execute("SELECT count(*) FROM _stitch_nodes").fetchone()[0]
    known = con.execute("SELECT known FROM _stitch_nodes ORDER BY code").fetchnumpy()
    known = np.asarray(known["known"], dtype=bool) if n else np.zeros(0, dtype=bool)
    arr = con.execute("""
        SELECT na.code AS a, nc.code AS c, l.forced
        FROM _stitch_links l JOIN _stitch_nodes na ON na.id = l.alias_id
        JOIN _stitch_nodes nc ON nc.id = l.customer_id ORDER BY l.pos""").fetchnumpy()
    a = np.asarray(arr["a"], dtype=np.int64)
    c = np.asarray(arr["c"], dtype=np.int64)
    forced = np.asarray(arr["forced"], dtype=bool)
    person, status, conflicts = _resolve_fast(n, known, a, c, forced, force)
    m = len(a)
    report.links = m
    report.refused = int((status == REFUSED).sum())
    report.forced = int((status == FORCED_STATUS).sum())
    report.accepted = m - report.refused

    # node -> person id, for nodes whose component has a customer
    has = np.nonzero(person >= 0)[0]
    con.register("_stitch_person_codes", pa.table({
        "code": pa.array(has, type=pa.int64()), "pcode": pa.array(person[has], type=pa.int64())}))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _stitch_person AS
        SELECT n.id, p.id AS person_id FROM _stitch_person_codes x
        JOIN _stitch_nodes n ON n.code = x.code JOIN _stitch_nodes p ON p.code = x.pcode""")
    con.unregister("_stitch_person_codes")

    # statuses of refused / forced links, written back (event links inserted as source 'event')
    special = np.asarray(sorted(conflicts), dtype=np.int64)
    pairs = np.asarray([conflicts[k] for k in special.tolist()], dtype=np.int64).reshape(-1, 2)
    con.register("_stitch_conf_codes", pa.table({
        "pos": pa.array(special, type=pa.int64()),
        "forced_now": pa.array(status[special] == FORCED_STATUS, type=pa.bool_()),
        "ka": pa.array(pairs[:, 0], type=pa.int64()), "kc": pa.array(pairs[:, 1], type=pa.int64())}))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _stitch_conf AS
        WITH t AS (
            SELECT l.pos, l.rid, l.alias_id, l.customer_id, l.source, l.ts, x.forced_now,
                   'would merge customers ' || na.id || ' and ' || nc.id || ': '
                   || CASE WHEN l.alias_id = na.id THEN l.alias_id || ' is a known customer'
                           ELSE l.alias_id || ' belongs to customer ' || na.id END
                   || ', the link points to '
                   || CASE WHEN l.customer_id = nc.id THEN 'customer ' || l.customer_id
                           ELSE l.customer_id || ' (customer ' || nc.id || ')' END AS text
            FROM _stitch_conf_codes x JOIN _stitch_links l ON l.pos = x.pos
            JOIN _stitch_nodes na ON na.code = x.ka JOIN _stitch_nodes nc ON nc.code = x.kc)
        SELECT pos, rid, alias_id, customer_id, source, ts,
               CASE WHEN forced_now THEN 'accepted' ELSE 'refused' END AS status,
               CASE WHEN forced_now THEN 'forced: ' || replace(text, 'would merge', 'merged')
                    ELSE text END AS reason
        FROM t""")
    con.unregister("_stitch_conf_codes")
    for alias, cust, source, ts, reason in con.execute(
            "SELECT alias_id, customer_id, source, ts, reason FROM _stitch_conf "
            f"WHERE status = 'refused' ORDER BY pos LIMIT {_MAX_REFUSALS}").fetchall():
        report.refusals.append({"alias_id": alias, "customer_id": cust, "source": source,
                                "timestamp": ts, "reason": reason})
    con.execute("""
        UPDATE identities SET status = u.status, reason = u.reason FROM _stitch_conf u
        WHERE u.rid IS NOT NULL AND identities.rowid = u.rid
          AND (identities.status IS DISTINCT FROM u.status OR identities.reason IS DISTINCT FROM u.reason)""")
    # everything else is accepted (a forced link that no longer conflicts stays marked forced)
    con.execute("""
        UPDATE identities SET status = 'accepted', reason = NULL
        WHERE (status IS DISTINCT FROM 'accepted' OR (reason IS NOT NULL AND reason NOT LIKE 'forced%'))
          AND alias_id IS NOT NULL AND customer_id IS NOT NULL
          AND rowid NOT IN (SELECT rid FROM _stitch_conf WHERE rid IS NOT NULL)""")
    con.execute("""
        INSERT INTO identities (alias_id, customer_id, source, "timestamp", status, reason)
        SELECT alias_id, customer_id, 'event', ts, status, reason FROM _stitch_conf WHERE rid IS NULL""")

    # the map: every id of events, customers and identities
    con.execute(f"""
        CREATE OR REPLACE TABLE identity_map AS
        SELECT ids.id, ids.id_kind,
               coalesce(p.person_id, CASE WHEN ids.id_kind = 'customer' THEN ids.id
                                          ELSE 'anon:' || ids.id END) AS person_id
        FROM ({_ALL_IDS_SQL}) ids LEFT JOIN _stitch_person p ON p.id = ids.id""")
    for t in ("_stitch_links", "_stitch_nodes", "_stitch_person", "_stitch_conf"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    report.ids, report.persons = (int(x) for x in con.execute(
        "SELECT count(*), count(DISTINCT person_id) FROM identity_map").fetchall()[0])
    report.hash = map_fingerprint(con)
    old = con.execute("SELECT value FROM meta WHERE key = ?", [META_HASH]).fetchone()
    report.changed = old is None or old[0] != report.hash
    store.set_meta(META_HASH, report.hash, con=con)
    return report


def map_fingerprint(con) -> str:
    """A fingerprint of ``identity_map`` that changes when any id changes person.

    Each row is hashed as one joined text: DuckDB's several-argument ``hash(a, b, c)``
    combines the columns' hashes, so under the XOR over rows a person id shared by two
    rows that move together would cancel out and hide the change.
    """
    count, h = con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(concat_ws(chr(31), id, id_kind, person_id))), 0) "
        "FROM identity_map").fetchall()[0]
    return f"{count}:{h}"


def stitch(store: Store, force: bool = False) -> StitchReport:
    """Rebuild ``identity_map`` from all links, in one transaction.

    ``force``: accept every link that would merge two known customers (the person of the link's
    customer_id absorbs the other); such links stay forced on later stitches.
    """
    with store.transaction() as con:
        return _stitch(store, con, force)


def _parse_ts(value):
    from .segment import _Reject, parse_time

    try:
        return parse_time(value, "timestamp"), None
    except _Reject as rej:
        return None, rej.reason


def add_links(store: Store, links: list[dict], force: bool = False) -> LinkReport:
    """Store links ``{alias_id, customer_id, source='manual', timestamp=now}`` and stitch.

    Malformed links (an id missing or too long, a bad timestamp) are returned in ``rejects``
    (``row`` is the 1-based position in ``links``) and not stored. A link already stored with the
    same alias_id, customer_id and source is not stored twice. ``force``: these links are
    accepted even when they merge two known customers, now and on later stitches.
    """
    report = LinkReport()
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for i, link in enumerate(links, start=1):
        if not isinstance(link, dict):
            report.rejects.append({"row": i, "column": None, "reason": "a link must be a dict"})
            continue
        bad = None
        for col in ("alias_id", "customer_id"):
            v = link.get(col)
            if v is None or str(v) == "":
                bad = (col, f"{col} is missing")
            elif len(str(v)) > MAX_ID:
                bad = (col, f"{col} is {len(str(v))} characters long, over the maximum of {MAX_ID}")
            if bad:
                break
        source = str(link.get("source") or "manual")
        if not bad and len(source) > 16:
            bad = ("source", "source is over 16 characters")
        ts, err = _parse_ts(link.get("timestamp")) if link.get("timestamp") is not None else (now, None)
        if not bad and err:
            bad = ("timestamp", err)
        if bad:
            report.rejects.append({"row": i, "column": bad[0], "reason": bad[1]})
            continue
        rows.append((str(link["alias_id"]), str(link["customer_id"]), source, ts))
    with store.transaction() as con:
        for alias, cust, source, ts in rows:
            exists = con.execute(
                "SELECT count(*) FROM identities WHERE alias_id = ? AND customer_id = ? AND source = ?",
                [alias, cust, source]).fetchone()[0]
            if exists:
                report.duplicates += 1
                if force:
                    con.execute("UPDATE identities SET status = 'accepted', reason = ? "
                                "WHERE alias_id = ? AND customer_id = ? AND source = ? "
                                "AND (reason IS NULL OR reason NOT LIKE 'forced%')",
                                [FORCED, alias, cust, source])
                continue
            con.execute("INSERT INTO identities (alias_id, customer_id, source, timestamp, status, reason) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [alias, cust, source, ts, "accepted" if force else None, FORCED if force else None])
            report.added += 1
        report.stitch = _stitch(store, con, False)
    return report


def person_of(store: Store, id_: str, id_kind: str | None = None) -> str | None:
    """The person id of one id (from ``identity_map``), or None when it is not there."""
    q = "SELECT min(person_id) FROM identity_map WHERE id = ?"
    params = [id_]
    if id_kind:
        q += " AND id_kind = ?"
        params.append(id_kind)
    return store.scalar(q, params) if store.has_table("identity_map") else None


__all__ = ["stitch", "add_links", "person_of", "resolve", "map_fingerprint", "StitchReport", "LinkReport",
           "META_HASH"]
