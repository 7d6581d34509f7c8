"""Measure the generator's output with DuckDB over the written files (what the calibration claims)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from parcours.synth.world import STAGE_EVENTS, STAGES


def connect(out: Path, fmt: str = "parquet") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    reader = {"parquet": "read_parquet", "csv": "read_csv_auto", "jsonl": "read_json_auto"}[fmt]
    for name in ("events", "customers", "feedback", "spend"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{out / (name + '.' + fmt)}')")
    values = ", ".join(f"('{e}', '{s}', {i})" for i, s in enumerate(STAGES) for e in STAGE_EVENTS[s])
    con.execute(f"CREATE TABLE stage_of(event VARCHAR, stage VARCHAR, k INT); INSERT INTO stage_of VALUES {values}")
    # a person: the customer id, or the customer an anonymous id was seen with, or the anonymous id
    con.execute("""
        CREATE TABLE links AS SELECT DISTINCT anonymous_id, customer_id FROM events
        WHERE anonymous_id IS NOT NULL AND customer_id IS NOT NULL""")
    con.execute("""
        CREATE TABLE pev AS
        SELECT coalesce(e.customer_id, l.customer_id, e.anonymous_id) AS person, e.*
        FROM events e LEFT JOIN links l ON e.customer_id IS NULL AND e.anonymous_id = l.anonymous_id""")
    con.execute("""
        CREATE TABLE reach AS
        SELECT person, bool_or(s.k = 0) AS s0, bool_or(s.k = 1) AS s1, bool_or(s.k = 2) AS s2,
               bool_or(s.k = 3) AS s3, bool_or(s.k = 4) AS s4, bool_or(p.event = 'purchase') AS bought
        FROM pev p JOIN stage_of s USING (event) GROUP BY person""")
    return con


def calibration(con) -> dict:
    aw, ac = con.execute("SELECT count(*) FILTER (s0), count(*) FILTER (s0 AND s1) FROM reach").fetchone()
    c, cp = con.execute("SELECT count(*) FILTER (s1), count(*) FILTER (s1 AND s2) FROM reach").fetchone()
    visits, buys = con.execute("""
        SELECT count(DISTINCT json_extract(properties, '$.session_id')),
               count(DISTINCT json_extract(properties, '$.session_id')) FILTER (event = 'purchase')
        FROM events WHERE json_extract(properties, '$.session_id') IS NOT NULL""").fetchone()
    return {
        "people": con.execute("SELECT count(*) FROM reach").fetchone()[0],
        "awareness_abandonment": 1 - ac / aw,
        "consideration_abandonment": 1 - cp / c,
        "visit_conversion": buys / visits,
    }
