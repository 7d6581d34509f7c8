"""Segments: named groups of persons, saved in the workspace, that narrow every analysis.

A segment is a *definition* (JSON) of one of three kinds:

* ``rules``: attribute rules on the customer (``segment = b2b``, ``age >= 30``,
  ``city in (Paris, Lyon)``) and behaviour rules (``did purchase >= 2 within 90d``,
  ``first_channel = search``, ``stage = retention``), all of which must hold (``match: all``)
  or at least one (``match: any``);
* ``rfm``: the persons of one named RFM segment (:mod:`.rfm`);
* ``cluster``: the persons of one cluster of journeys (:mod:`.clusters`).

Saving evaluates the definition and stores its members in the same transaction
(``segments`` and ``segment_members``): a segment is a snapshot, so a comparison or a
report can be run again on the same people; :func:`update_segment` evaluates it again on
the current data. Inside :func:`segment_scope`, every analysis sees only the members (see
``Store.scoped``). Semantics of every rule are in ``docs/segments.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, json_ready, parse_duration

__all__ = [
    "Rule", "parse_rule", "SegmentInfo", "SegmentList", "SegmentMembers", "normalise",
    "members_sql", "save_segment", "save_clusters", "update_segment", "list_segments",
    "segment_members", "drop_segment", "segment_scope", "KINDS", "by_segments", "funnel_by_segments",
    "kpis_by_segments",
]

KINDS = ("rules", "rfm", "cluster")
OPS = ("=", "!=", ">=", "<=", ">", "<", "in", "not in")
#: customer columns a rule may name directly; any other name is an attribute.
CUSTOMER_COLUMNS = ("customer_id", "account_id", "created_at")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
_RULE = re.compile(r"^\s*(?P<field>[^\s=!<>]+)\s*(?P<op>not\s+in\b|in\b|!=|>=|<=|=|>|<)\s*(?P<value>.*?)\s*$",
                   re.IGNORECASE)
_DID = re.compile(r"^\s*did\s+(?P<event>\S+)(?:\s*(?P<op>!=|>=|<=|=|>|<)\s*(?P<n>\d+))?"
                  r"(?:\s+within\s+(?P<within>\S+))?\s*$", re.IGNORECASE)

_DDL = [
    """CREATE TABLE IF NOT EXISTS segments (name VARCHAR PRIMARY KEY, kind VARCHAR,
        definition JSON, created_at TIMESTAMP, members INTEGER)""",
    "CREATE TABLE IF NOT EXISTS segment_members (name VARCHAR, person_id VARCHAR)",
]


# -- rules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One condition on a person. ``kind``: attribute, column, did, first_channel or stage."""

    kind: str
    field: str
    op: str
    values: tuple = ()
    within: dt.timedelta | None = None

    @property
    def number(self) -> bool:
        """Numbers compare as numbers (``age >= 30``), anything else as text."""
        return bool(self.values) and all(isinstance(v, (int, float)) for v in self.values)


def _value(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_rule(text: str) -> Rule:
    """A rule from its text, e.g. ``age >= 30``, ``city in (Paris, Lyon)``, ``did purchase >= 2
    within 90d``, ``first_channel = search``, ``stage = retention``."""
    if not isinstance(text, str) or not text.strip():
        raise AnalysisError("a segment rule cannot be empty")
    if m := _DID.match(text):
        n = int(m["n"]) if m["n"] is not None else 1
        within = parse_duration(m["within"]) if m["within"] else None
        return Rule("did", m["event"], m["op"] or ">=", (n,), within)
    m = _RULE.match(text)
    if not m or not m["value"] or m["value"][0] in "=<>!":
        raise AnalysisError(
            f"invalid segment rule {text!r}: expected FIELD OP VALUE (OP one of {', '.join(OPS)}), "
            "e.g. 'segment = b2b', 'age >= 30', 'city in (Paris, Lyon)' or 'did purchase >= 2 within 90d'")
    op = " ".join(m["op"].lower().split())
    raw = m["value"]
    if op in ("in", "not in"):
        raw = raw[1:-1] if raw.startswith("(") and raw.endswith(")") else raw
        values = tuple(_value(v) for v in raw.split(",") if v.strip())
        if not values:
            raise AnalysisError(f"invalid segment rule {text!r}: '{op}' needs a list, e.g. (Paris, Lyon)")
    else:
        values = (_value(raw),)
    name = m["field"].removeprefix("attributes.")
    if not name:
        raise AnalysisError(f"invalid segment rule {text!r}: the field name is empty")
    if name in ("first_channel", "stage"):
        kind = name
    elif name in CUSTOMER_COLUMNS and not m["field"].startswith("attributes."):
        kind = "column"
    else:
        kind = "attribute"
    if kind == "column" and name == "created_at":
        for v in values:
            as_time(str(v))  # a clear error now rather than a cast error in SQL
        values = tuple(str(v) for v in values)
    return Rule(kind, name, op, values)


def _compare(expr: str, rule: Rule, params: list) -> str:
    """``expr OP values`` with the values as parameters."""
    cast = "DOUBLE" if rule.number else ("TIMESTAMP" if rule.field == "created_at" and rule.kind == "column" else None)
    lhs = f"TRY_CAST({expr} AS {cast})" if cast == "DOUBLE" else expr
    holes = []
    for v in rule.values:
        params.append(v if rule.number else str(v))
        holes.append(f"CAST(? AS {cast})" if cast else "CAST(? AS VARCHAR)")
    if rule.op in ("in", "not in"):
        return f"{lhs} {rule.op.upper()} ({', '.join(holes)})"
    return f"{lhs} {rule.op} {holes[0]}"


def _rule_sql(store, rule: Rule, params: list) -> str:
    """SQL selecting the ``person_id`` of the persons meeting ``rule``."""
    people = f"(SELECT DISTINCT person_id FROM {JOURNEY} WHERE person_id IS NOT NULL)"
    if rule.kind in ("attribute", "column"):
        if rule.kind == "attribute":
            params.append('$."' + rule.field.replace('"', '\\"') + '"')
            expr = "json_extract_string(c.attributes, ?)"
        else:
            expr = f'c."{rule.field}"'
        cond = _compare(expr, rule, params)
        return (f"SELECT DISTINCT m.person_id FROM {_customer_map(store)} m "
                f"JOIN customers c ON c.customer_id = m.customer_id WHERE {cond}")
    if rule.kind == "did":
        since = ""
        if rule.within is not None:
            since = (f' AND "timestamp" > (SELECT max("timestamp") FROM {JOURNEY}) '
                     f"- to_microseconds({int(rule.within / dt.timedelta(microseconds=1))})")
        params.append(rule.field)
        counts = (f"SELECT person_id, count(*) AS n FROM {JOURNEY} WHERE event = ?{since} "
                  "GROUP BY person_id")
        params.append(rule.values[0])
        return (f"SELECT p.person_id FROM {people} p LEFT JOIN ({counts}) c USING (person_id) "
                f"WHERE coalesce(c.n, 0) {rule.op} ?")
    col = "channel" if rule.kind == "first_channel" else "stage"
    direction = "" if rule.kind == "first_channel" else " DESC"
    ranked = (f"SELECT person_id, {col} AS v FROM {JOURNEY} WHERE person_id IS NOT NULL QUALIFY "
              f'row_number() OVER (PARTITION BY person_id ORDER BY "timestamp"{direction}, seq{direction}) = 1')
    cond = _compare("v", rule, params)
    return f"SELECT person_id FROM ({ranked}) WHERE {cond}"


def _customer_map(store) -> str:
    """(person_id, customer_id): the journey layer's ``persons``, else the person id itself."""
    if store.has_table("persons"):
        return "(SELECT person_id, customer_id FROM persons)"
    return f"(SELECT DISTINCT person_id, person_id AS customer_id FROM {JOURNEY})"


# -- definitions ---------------------------------------------------------------------------
def normalise(definition: Mapping[str, Any] | str) -> dict:
    """A checked definition: ``{"kind": "rules", "rules": [...], "match": "all"}``, ``{"kind":
    "rfm", "segment": NAME}`` or ``{"kind": "cluster", "k": K, "cluster": N, "seed": S}``.
    A string is one rule."""
    from .rfm import RFM_SEGMENTS

    if isinstance(definition, str):
        definition = {"kind": "rules", "rules": [definition]}
    if not isinstance(definition, Mapping):
        raise AnalysisError(f"a segment definition must be a dict or a rule, not {definition!r}")
    d = dict(definition)
    kind = d.get("kind", "rules")
    if kind == "rules":
        rules = d.get("rules")
        if isinstance(rules, str):
            rules = [rules]
        if not rules:
            raise AnalysisError("a rules segment needs at least one rule")
        for r in rules:
            parse_rule(r)
        match = d.get("match", "all")
        if match not in ("all", "any"):
            raise AnalysisError(f"match must be all or any, not {match!r}")
        return {"kind": kind, "rules": list(rules), "match": match}
    if kind == "rfm":
        seg = d.get("segment")
        if seg not in RFM_SEGMENTS:
            raise AnalysisError(f"unknown RFM segment {seg!r}: expected one of {', '.join(RFM_SEGMENTS)}")
        out = {"kind": kind, "segment": seg, "purchase_event": d.get("purchase_event", "purchase")}
        if d.get("as_of") is not None:
            out["as_of"] = as_time(d["as_of"]).isoformat()
        return out
    if kind == "cluster":
        k, n, seed = d.get("k"), d.get("cluster"), d.get("seed", 0)
        if not isinstance(k, int) or k < 2 or not isinstance(n, int) or not 1 <= n <= k or not isinstance(seed, int):
            raise AnalysisError(f"a cluster segment needs integers k >= 2, 1 <= cluster <= k and seed: {d!r}")
        return {"kind": kind, "k": k, "cluster": n, "seed": seed,
                "purchase_event": d.get("purchase_event", "purchase")}
    raise AnalysisError(f"unknown segment kind {kind!r}: expected one of {', '.join(KINDS)}")


def members_sql(store, definition: Mapping[str, Any] | str) -> tuple[str, list]:
    """SQL (and its parameters) selecting the ``person_id`` of the definition's members."""
    from .rfm import rfm_sql

    d = normalise(definition)
    if not store.has_table(JOURNEY):
        raise AnalysisError("no journey tables: run the stage assignment (parcours refresh) first")
    params: list = []
    if d["kind"] == "rules":
        parts = [_rule_sql(store, parse_rule(r), params) for r in d["rules"]]
        glue = " INTERSECT " if d["match"] == "all" else " UNION "
        return "SELECT person_id FROM (" + glue.join(f"({p})" for p in parts) + ")", params
    if d["kind"] == "rfm":
        sql, params = rfm_sql(as_time(d.get("as_of")), d["purchase_event"])
        return f"SELECT person_id FROM ({sql}) WHERE segment = ?", params + [d["segment"]]
    from .clusters import journey_clusters

    result = journey_clusters(store, d["k"], d["seed"], d["purchase_event"])
    return "SELECT unnest(CAST(? AS VARCHAR[])) AS person_id", [result.members(d["cluster"])]


# -- results -------------------------------------------------------------------------------
@dataclass
class SegmentInfo:
    name: str
    kind: str
    definition: dict
    created_at: str | None
    members: int

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "definition": self.definition,
                "created_at": self.created_at, "members": self.members}


@dataclass
class SegmentList:
    segments: list[SegmentInfo] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"segments": [s.to_dict() for s in self.segments]}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([s.to_dict() for s in self.segments],
                            columns=["name", "kind", "definition", "created_at", "members"])

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


@dataclass
class SegmentMembers:
    segment: SegmentInfo
    #: person ids, sorted
    persons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.segment.to_dict(), "persons": self.persons}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"person_id": self.persons})


# -- storage -------------------------------------------------------------------------------
def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AnalysisError(f"invalid segment name {name!r}: use letters, digits, _ . - (at most 64)")
    return name


def _info(row) -> SegmentInfo:
    name, kind, definition, created, members = row
    return SegmentInfo(name, kind, json.loads(definition), json_ready(created), int(members))


def _write(store, con, name: str, definition: dict, sql: str, params: list, replace: bool) -> None:
    for ddl in _DDL:
        con.execute(ddl)
    if con.execute("SELECT count(*) FROM segments WHERE name = ?", [name]).fetchone()[0]:
        if not replace:
            raise AnalysisError(f"a segment named {name!r} already exists: drop it or replace it")
        con.execute("DELETE FROM segments WHERE name = ?", [name])
        con.execute("DELETE FROM segment_members WHERE name = ?", [name])
    con.execute("INSERT INTO segments VALUES (?, ?, ?, now()::TIMESTAMP, 0)",
                [name, definition["kind"], json.dumps(definition, sort_keys=True)])
    con.execute(f"INSERT INTO segment_members SELECT DISTINCT ?, CAST(person_id AS VARCHAR) "
                f"FROM ({sql}) WHERE person_id IS NOT NULL", [name] + params)
    con.execute("UPDATE segments SET members = (SELECT count(*) FROM segment_members WHERE name = ?) "
                "WHERE name = ?", [name, name])


def save_segment(store, name: str, definition: Mapping[str, Any] | str, *,
                 replace: bool = False) -> SegmentInfo:
    """Evaluate ``definition`` and store it with its members, all or nothing."""
    _check_name(name)
    d = normalise(definition)
    sql, params = members_sql(store, d)
    with store.transaction() as con:
        _write(store, con, name, d, sql, params, replace)
    return _get(store, name)


def save_clusters(store, name: str, k: int, seed: int = 0, *, replace: bool = False,
                  purchase_event: str = "purchase") -> list[SegmentInfo]:
    """Cluster the journeys once and save each cluster as ``NAME-1`` ... ``NAME-k`` (largest
    first), all in one transaction; each definition keeps the cluster's description."""
    from .clusters import journey_clusters

    _check_name(name)
    result = journey_clusters(store, k, seed, purchase_event)
    names = [_check_name(f"{name}-{c['cluster']}") for c in result.clusters]
    with store.transaction() as con:
        for n, c in zip(names, result.clusters):
            d = {"kind": "cluster", "k": k, "cluster": c["cluster"], "seed": seed,
                 "purchase_event": purchase_event, "distinctive": c["distinctive"]}
            _write(store, con, n, d, "SELECT unnest(CAST(? AS VARCHAR[])) AS person_id",
                   [result.members(c["cluster"])], replace)
    return [_get(store, n) for n in names]


def update_segment(store, name: str) -> SegmentInfo:
    """Evaluate a saved segment again on the current data and replace its members."""
    info = _get(store, name)
    return save_segment(store, name, info.definition, replace=True)


def _get(store, name: str) -> SegmentInfo:
    rows = store.fetch("SELECT name, kind, definition, created_at, members FROM segments "
                       "WHERE name = ?", [name]) if store.has_table("segments") else []
    if not rows:
        known = list_segments(store).names()
        hint = f"; saved segments: {', '.join(known)}" if known else "; no segment is saved yet"
        raise AnalysisError(f"unknown segment {name!r}{hint}")
    return _info(rows[0])


def list_segments(store) -> SegmentList:
    if not store.has_table("segments"):
        return SegmentList()
    rows = store.fetch("SELECT name, kind, definition, created_at, members FROM segments ORDER BY name")
    return SegmentList([_info(r) for r in rows])


def segment_members(store, name: str) -> SegmentMembers:
    info = _get(store, name)
    persons = [r[0] for r in store.fetch(
        "SELECT person_id FROM segment_members WHERE name = ? ORDER BY person_id", [name])]
    return SegmentMembers(info, persons)


def drop_segment(store, name: str) -> SegmentInfo:
    info = _get(store, name)
    with store.transaction() as con:
        con.execute("DELETE FROM segment_members WHERE name = ?", [name])
        con.execute("DELETE FROM segments WHERE name = ?", [name])
    return info


@contextlib.contextmanager
def segment_scope(store, name: str | None) -> Iterator:
    """Every analysis run inside the block sees only the segment's members (None: everyone)."""
    if name is None:
        yield store
        return
    _get(store, name)
    with store.scoped("SELECT person_id FROM segment_members WHERE name = ?", [name]):
        yield store


# -- breakdown by saved segments -----------------------------------------------------------------
def by_segments(store, run, names: list[str] | None = None) -> list[tuple[str, Any]]:
    """``run()`` once inside each saved segment's scope (all of them by default, by name).

    A person in several segments counts in each, so this is a list of scoped results rather
    than a breakdown column (one value per person)."""
    names = list_segments(store).names() if names is None else names
    if not names:
        raise AnalysisError("no segment is saved yet: add one with `parcours segment add`")
    out = []
    for name in names:
        with segment_scope(store, name):
            out.append((name, run()))
    return out


def funnel_by_segments(store, names: list[str] | None = None, **kw):
    """The funnel of everyone, with one breakdown entry per saved segment (value = its name)."""
    from .funnel import FunnelBreakdown, funnel

    result = funnel(store, **kw)
    for name, part in by_segments(store, lambda: funnel(store, **kw), names):
        result.breakdown.append(FunnelBreakdown(name, part.steps))
    return result


def kpis_by_segments(store, model, names: list[str] | None = None, **kw):
    """The stage KPIs of everyone, with one breakdown group per saved segment (its name)."""
    from .kpis import stage_kpis

    result = stage_kpis(store, model, **kw)
    result.by = "segments"
    for name, part in by_segments(store, lambda: stage_kpis(store, model, **kw), names):
        result.breakdown.append({"group": name, "stages": part.stages})
    return result
