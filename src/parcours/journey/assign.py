"""Stage assignment: every event of every person gets a stage of the journey model.

Written as DuckDB SQL over the store because it runs on every event (10M+): names are
dictionary-encoded, times are epoch microseconds and ``journey_events`` is physically
clustered by (person, time), which is what makes the window functions of the analyses fast
(see ARCHITECTURE.md, "Engine").

Tables built by :func:`refresh` (all in one transaction):

- ``dim_event`` / ``dim_channel`` / ``dim_touchpoint`` (code, name): codes never change once
  given, new names are appended.
- ``dim_stage`` (stage, id, rank, label_fr, label_en): the model's stages.
- ``persons`` (person_key, person_id, customer_id, account_id, first_seen, last_seen).
- ``journey_events``: one row per event, ORDER BY person_key, ts, seq.
- ``stage_history``: one row per consecutive run of a stage, with the move that entered it.
- ``person_stage``: current and furthest stage, backward moves and skips per person.
- view ``journey_view``: journey_events with readable names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

from ..errors import AnalysisError
from .model import JourneyModel

META_SEQ = "journey.last_seq"
META_IDENTITY = "journey.identity_hash"
META_MODEL = "journey.model"

#: dictionary tables: (table, code column, name column, source column of the events)
DIMS = (("dim_event", "code", "name", "event"), ("dim_channel", "code", "name", "channel"),
        ("dim_touchpoint", "code", "name", "touchpoint"),
        ("dim_account", "account_key", "account_id", "account_id"))


@dataclasses.dataclass
class RefreshStats:
    full: bool
    persons: int  # persons in the store after the refresh
    events: int  # rows of journey_events after the refresh
    persons_updated: int  # persons whose journey was recomputed
    new_events: int  # events imported since the previous refresh
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -- SQL generation -----------------------------------------------------------------------
def _lit(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _in(expr: str, values) -> str:
    return f"{expr} IN ({', '.join(_lit(v) for v in values)})"


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace('"', '\\"') + '"'


def stage_case(model: JourneyModel, prefix: str = "e.") -> str:
    """The model's rules as one CASE expression giving the stage index, NULL when none match."""
    whens = []
    for rule in model.rules:
        conds = []
        for names, col in ((rule.events, "event"), (rule.channels, "channel"),
                           (rule.touchpoints, "touchpoint")):
            if names is not None:
                conds.append(_in(f"{prefix}{col}", names))
        for key, values in rule.property_values.items():
            conds.append(_in(f"json_extract_string({prefix}properties, {_lit(_json_path(key))})", values))
        cond = " AND ".join(conds) or "TRUE"
        whens.append(f"WHEN {cond} THEN {model.stage_index(rule.stage)}")
    if not whens:
        return "CAST(NULL AS SMALLINT)"
    return f"CAST(CASE {' '.join(whens)} END AS SMALLINT)"


def person_id_sql(con, prefix: str = "e.") -> tuple[str, str]:
    """(joins, expression) resolving an event to its person, through identity_map when present."""
    if not _has_table(con, "identity_map"):
        return "", f"coalesce({prefix}customer_id, 'anon:' || {prefix}anonymous_id)"
    joins = (
        "LEFT JOIN (SELECT id, min(person_id) AS person_id FROM identity_map "
        f"WHERE id_kind = 'customer' GROUP BY id) imc ON imc.id = {prefix}customer_id "
        "LEFT JOIN (SELECT id, min(person_id) AS person_id FROM identity_map "
        f"WHERE id_kind = 'anonymous' GROUP BY id) ima ON ima.id = {prefix}anonymous_id"
    )
    expr = (f"coalesce(imc.person_id, {prefix}customer_id, ima.person_id, "
            f"'anon:' || {prefix}anonymous_id)")
    return joins, expr


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()[0])


def _identity_hash(con) -> str:
    from ..data.identity import map_fingerprint

    return map_fingerprint(con) if _has_table(con, "identity_map") else "none"


_DDL = [
    "CREATE TABLE IF NOT EXISTS dim_event (code INTEGER, name VARCHAR)",
    "CREATE TABLE IF NOT EXISTS dim_channel (code INTEGER, name VARCHAR)",
    "CREATE TABLE IF NOT EXISTS dim_touchpoint (code INTEGER, name VARCHAR)",
    "CREATE TABLE IF NOT EXISTS dim_account (account_key INTEGER, account_id VARCHAR)",
    """CREATE TABLE IF NOT EXISTS persons (person_key INTEGER, person_id VARCHAR,
        customer_id VARCHAR, account_id VARCHAR, first_seen TIMESTAMP, last_seen TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS journey_events (person_key INTEGER, ts BIGINT,
        event_code INTEGER, channel_code INTEGER, touchpoint_code INTEGER, stage SMALLINT,
        value DOUBLE, account_key INTEGER, seq BIGINT)""",
    """CREATE TABLE IF NOT EXISTS stage_history (person_key INTEGER, visit INTEGER,
        stage SMALLINT, entered_at TIMESTAMP, left_at TIMESTAMP, events INTEGER,
        move VARCHAR, from_stage SMALLINT)""",
    """CREATE TABLE IF NOT EXISTS person_stage (person_key INTEGER, current_stage SMALLINT,
        furthest_stage SMALLINT, backward_moves INTEGER, skips INTEGER)""",
]

_VIEW = """CREATE OR REPLACE VIEW journey_view AS
SELECT p.person_id, e.account_id, e.customer_id, e.anonymous_id, e.event_id, make_timestamp(j.ts) AS "timestamp",
       de.name AS event, dc.name AS channel, dt.name AS touchpoint,
       ds.id AS stage, j.stage AS stage_index, j.value, e.currency, e.properties, j.seq
FROM journey_events j
JOIN persons p ON p.person_key = j.person_key
JOIN events e ON e._seq = j.seq
LEFT JOIN dim_event de ON de.code = j.event_code
LEFT JOIN dim_channel dc ON dc.code = j.channel_code
LEFT JOIN dim_touchpoint dt ON dt.code = j.touchpoint_code
LEFT JOIN dim_stage ds ON ds.stage = j.stage"""


def _stage_tables(con, model: JourneyModel) -> None:
    """dim_stage and the move classification table, both derived from the model."""
    con.execute("CREATE OR REPLACE TABLE dim_stage (stage SMALLINT, id VARCHAR, rank SMALLINT, "
                "label_fr VARCHAR, label_en VARCHAR)")
    con.executemany("INSERT INTO dim_stage VALUES (?, ?, ?, ?, ?)", [
        [i, s.id, model.rank(s.id), s.labels.fr, s.labels.en] for i, s in enumerate(model.stages)
    ])
    ids = model.stage_ids
    con.execute("CREATE OR REPLACE TEMP TABLE _moves (from_stage SMALLINT, to_stage SMALLINT, move VARCHAR)")
    moves = [[i, j, model.move_kind(a, b)] for i, a in enumerate(ids) for j, b in enumerate(ids) if i != j]
    if moves:  # a one-stage model has none, and executemany refuses an empty list
        con.executemany("INSERT INTO _moves VALUES (?, ?, ?)", moves)


def _append_dims(con, source: str) -> None:
    """Give codes to names not seen yet; existing codes never change."""
    for table, code, name, col in DIMS:
        con.execute(f"""
            INSERT INTO {table}
            SELECT (SELECT coalesce(max({code}), 0) FROM {table}) + row_number() OVER (ORDER BY n), n
            FROM (SELECT DISTINCT {col} AS n FROM {source} WHERE {col} IS NOT NULL
                  EXCEPT SELECT {name} FROM {table})""")


def refresh(store, model: JourneyModel, full: bool = False) -> RefreshStats:
    """Assign stages and rebuild stage histories for persons with new events (all if ``full``).

    A full rebuild is forced when the model's stages, rules or path changed, or when
    ``identity_map`` changed, since either can move any event of any person.
    """
    t0 = time.perf_counter()
    with store.transaction() as con:
        for ddl in _DDL:
            con.execute(ddl)
        ident = _identity_hash(con)
        fingerprint = model.fingerprint()
        last_seq = int(store.meta(META_SEQ) or -1) if not full else -1
        if store.meta(META_IDENTITY) != ident or store.meta(META_MODEL) != fingerprint:
            full, last_seq = True, -1
        max_seq = con.execute("SELECT coalesce(max(_seq), -1) FROM events").fetchone()[0]
        new_events = con.execute("SELECT count(*) FROM events WHERE _seq > ?", [last_seq]).fetchone()[0]
        _stage_tables(con, model)  # labels may have changed even when nothing else did
        if not full and new_events == 0:
            con.execute("DROP TABLE _moves")
            return _stats(con, False, 0, 0, t0)

        joins, pid = person_id_sql(con)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _ev AS
            SELECT {pid} AS person_id, e.customer_id, e.account_id, e."timestamp",
                   epoch_us(e."timestamp") AS ts, e.event, e.channel, e.touchpoint, e.value,
                   e._seq AS seq, {stage_case(model)} AS matched
            FROM events e {joins}
            WHERE e."timestamp" IS NOT NULL AND {pid} IS NOT NULL""")
        if full:
            for t in ("persons", "journey_events", "stage_history", "person_stage"):
                con.execute(f"DELETE FROM {t}")
        else:  # keep only the persons with new events; their whole journey is recomputed
            con.execute(f"""DELETE FROM _ev WHERE person_id NOT IN
                (SELECT person_id FROM _ev WHERE seq > {int(last_seq)})""")
            con.execute("""CREATE OR REPLACE TEMP TABLE _scope AS SELECT p.person_key FROM persons p
                WHERE p.person_id IN (SELECT person_id FROM _ev)""")
            for t in ("journey_events", "stage_history", "person_stage"):
                con.execute(f"DELETE FROM {t} WHERE person_key IN (SELECT person_key FROM _scope)")
        _append_dims(con, "_ev")
        _write_persons(con)
        _write_events(con, full)
        _write_history(con)
        con.execute(_VIEW)
        store.set_meta(META_SEQ, str(max_seq), con)
        store.set_meta(META_IDENTITY, ident, con)
        store.set_meta(META_MODEL, fingerprint, con)
        updated = con.execute("SELECT count(DISTINCT person_id) FROM _ev").fetchone()[0]
        for t in ("_ev", "_staged", "_scope", "_moves"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        return _stats(con, full, updated, new_events, t0)


def _stats(con, full: bool, updated: int, new_events: int, t0: float) -> RefreshStats:
    persons = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    events = con.execute("SELECT count(*) FROM journey_events").fetchone()[0]
    return RefreshStats(full, persons, events, updated, new_events, time.perf_counter() - t0)


def _write_persons(con) -> None:
    """Persons in scope get their row rewritten; known ones keep their key, new ones are appended."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _p AS
        SELECT person_id,
               arg_max(customer_id, (ts, seq)) FILTER (WHERE customer_id IS NOT NULL) AS customer_id,
               arg_max(account_id, (ts, seq)) FILTER (WHERE account_id IS NOT NULL) AS account_id,
               min("timestamp") AS first_seen, max("timestamp") AS last_seen
        FROM _ev GROUP BY person_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _keys AS
        SELECT _p.person_id, coalesce(old.person_key,
               (SELECT coalesce(max(person_key), 0) FROM persons)
               + row_number() OVER (PARTITION BY old.person_key IS NULL ORDER BY _p.person_id)) AS person_key
        FROM _p LEFT JOIN persons old USING (person_id)""")
    con.execute("DELETE FROM persons WHERE person_id IN (SELECT person_id FROM _p)")
    con.execute("""INSERT INTO persons SELECT k.person_key, _p.person_id, _p.customer_id,
        _p.account_id, _p.first_seen, _p.last_seen FROM _p JOIN _keys k USING (person_id)""")
    con.execute("DROP TABLE _p; DROP TABLE _keys")


def _write_events(con, full: bool) -> None:
    """Encode, carry the stage forward over unmatched events, and rewrite clustered."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _staged AS
        SELECT p.person_key, ev.ts, de.code AS event_code, dc.code AS channel_code,
               dt.code AS touchpoint_code,
               CAST(coalesce(last_value(ev.matched IGNORE NULLS) OVER (
                   PARTITION BY p.person_key ORDER BY ev.ts, ev.seq
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0) AS SMALLINT) AS stage,
               ev.value, da.account_key, ev.seq
        FROM _ev ev
        JOIN persons p ON p.person_id = ev.person_id
        LEFT JOIN dim_event de ON de.name = ev.event
        LEFT JOIN dim_channel dc ON dc.name = ev.channel
        LEFT JOIN dim_touchpoint dt ON dt.name = ev.touchpoint
        LEFT JOIN dim_account da ON da.account_id = ev.account_id""")
    kept = "" if full else "SELECT * FROM journey_events UNION ALL "
    con.execute(f"""CREATE OR REPLACE TABLE journey_events AS
        SELECT * FROM ({kept}SELECT * FROM _staged) ORDER BY person_key, ts, seq""")


def _write_history(con) -> None:
    """Runs of the same stage in time order; each run's move is classified against the model."""
    con.execute("""INSERT INTO stage_history
        WITH marked AS (
            SELECT person_key, ts, seq, stage,
                   CASE WHEN stage IS DISTINCT FROM lag(stage) OVER w THEN 1 ELSE 0 END AS new_run
            FROM _staged WINDOW w AS (PARTITION BY person_key ORDER BY ts, seq)),
        numbered AS (
            SELECT *, sum(new_run) OVER (PARTITION BY person_key ORDER BY ts, seq
                                         ROWS UNBOUNDED PRECEDING) AS visit
            FROM marked),
        runs AS (
            SELECT person_key, CAST(visit AS INTEGER) AS visit, any_value(stage) AS stage,
                   min(ts) AS entered, CAST(count(*) AS INTEGER) AS events
            FROM numbered GROUP BY person_key, visit),
        linked AS (
            SELECT *, lag(stage) OVER w AS from_stage, lead(entered) OVER w AS left_ts
            FROM runs WINDOW w AS (PARTITION BY person_key ORDER BY visit))
        SELECT l.person_key, l.visit, l.stage, make_timestamp(l.entered),
               make_timestamp(l.left_ts), l.events, coalesce(m.move, 'start'), l.from_stage
        FROM linked l LEFT JOIN _moves m ON m.from_stage = l.from_stage AND m.to_stage = l.stage
        ORDER BY l.person_key, l.visit""")
    con.execute("""INSERT INTO person_stage
        SELECT h.person_key, arg_max(h.stage, h.visit), arg_max(h.stage, ds.rank),
               CAST(count(*) FILTER (WHERE h.move = 'backward') AS INTEGER),
               CAST(count(*) FILTER (WHERE h.move = 'skip') AS INTEGER)
        FROM stage_history h JOIN dim_stage ds ON ds.stage = h.stage
        WHERE h.person_key IN (SELECT DISTINCT person_key FROM _staged)
        GROUP BY h.person_key""")
    con.execute("""CREATE OR REPLACE TABLE person_stage AS
        SELECT * FROM person_stage ORDER BY person_key""")


# -- one customer's journey ---------------------------------------------------------------
@dataclasses.dataclass
class CustomerTimeline:
    """One person's journey: the stages they went through and the events behind them."""

    person_id: str
    customer_ids: list[str]
    anonymous_ids: list[str]
    current_stage: str
    current_label: str
    stages: list[dict]
    events: list[dict]
    channels: list[str]

    def to_dict(self) -> dict:
        def iso(v):
            return v.isoformat() if isinstance(v, dt.datetime) else v

        return {
            "person_id": self.person_id,
            "customer_ids": self.customer_ids,
            "anonymous_ids": self.anonymous_ids,
            "current_stage": self.current_stage,
            "current_stage_label": self.current_label,
            "stages": [{k: iso(v) for k, v in s.items()} for s in self.stages],
            "events": [{k: iso(v) for k, v in e.items()} for e in self.events],
            "channels": self.channels,
        }

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.events, columns=["timestamp", "event", "channel", "touchpoint",
                                                  "stage", "stage_label"])


def _resolve_person(store, some_id: str) -> str | None:
    hit = store.fetch("SELECT person_id FROM persons WHERE person_id = ? OR customer_id = ? LIMIT 1",
                      [some_id, some_id])
    if hit:
        return hit[0][0]
    joins, pid = person_id_sql(store.con)
    # an anonymous id seen alongside a customer id still means its own (stitched) person first
    hit = store.fetch(f"SELECT {pid} FROM events e {joins} WHERE e.customer_id = ? "
                      "OR e.anonymous_id = ? ORDER BY coalesce(e.customer_id = ?, false) DESC, "
                      "e.customer_id IS NOT NULL LIMIT 1", [some_id, some_id, some_id])
    return hit[0][0] if hit else None


def timeline(store, model: JourneyModel, customer_id: str, lang: str = "fr") -> CustomerTimeline:
    """The journey of a person found by customer id, anonymous id or person id."""
    if not store.has_table("journey_events"):
        raise AnalysisError("journeys are not built yet: run a refresh first")
    person_id = _resolve_person(store, customer_id)
    if person_id is None:
        raise AnalysisError(f"unknown customer or anonymous id {customer_id!r}")
    key = store.scalar("SELECT person_key FROM persons WHERE person_id = ?", [person_id])
    if key is None:
        raise AnalysisError(f"{customer_id!r} has events imported since the last refresh: refresh first")
    ids = model.stage_ids

    def label(i: int) -> str:
        return model.label(ids[i], lang)

    runs = store.fetch("SELECT stage, entered_at, left_at, move FROM stage_history "
                       "WHERE person_key = ? ORDER BY visit", [key])
    rows = store.fetch("""SELECT "timestamp", event, channel, touchpoint, stage_index,
        customer_id, anonymous_id FROM journey_view WHERE person_id = ? ORDER BY "timestamp", seq""",
                       [person_id])
    events = [{"timestamp": r[0], "event": r[1], "channel": r[2], "touchpoint": r[3],
               "stage": ids[r[4]], "stage_label": label(r[4])} for r in rows]
    current = store.scalar("SELECT current_stage FROM person_stage WHERE person_key = ?", [key])
    return CustomerTimeline(
        person_id=person_id,
        customer_ids=list(dict.fromkeys(r[5] for r in rows if r[5] is not None)),
        anonymous_ids=list(dict.fromkeys(r[6] for r in rows if r[6] is not None)),
        current_stage=ids[current],
        current_label=label(current),
        stages=[{"stage": ids[s], "label": label(s), "entered_at": a, "left_at": b, "move": m}
                for s, a, b, m in runs],
        events=events,
        channels=list(dict.fromkeys(e["channel"] for e in events if e["channel"] is not None)),
    )


__all__ = ["refresh", "RefreshStats", "timeline", "CustomerTimeline", "stage_case", "person_id_sql"]
