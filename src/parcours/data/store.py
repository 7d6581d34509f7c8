"""The store: one DuckDB file per workspace. Only this module opens DuckDB connections.

Why DuckDB: embedded, columnar, transactional (an import is one transaction, so a process
killed mid-write leaves the file as before), and Ibis runs the analyses on it.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import ConfigError
from .schema import TABLES, Table

SCHEMA_VERSION = 1

#: internal columns of the events table, after the canonical ones.
EVENT_INTERNAL = (("_seq", "BIGINT"), ("_import", "INTEGER"))


def _ddl(table: Table, internal: tuple[tuple[str, str], ...] = ()) -> str:
    cols = [f'"{c.name}" {c.type}' for c in table.columns]
    cols += [f'"{n}" {t}' for n, t in internal]
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({", ".join(cols)})'


BOOK_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE SEQUENCE IF NOT EXISTS import_seq START 1""",
    """CREATE TABLE IF NOT EXISTS imports (
        import_id INTEGER, file VARCHAR, kind VARCHAR, format VARCHAR,
        started_at TIMESTAMP, finished_at TIMESTAMP,
        rows INTEGER, imported INTEGER, rejected INTEGER, duplicates INTEGER)""",
    """CREATE TABLE IF NOT EXISTS rejects (
        import_id INTEGER, file VARCHAR, kind VARCHAR, "row" BIGINT, "column" VARCHAR,
        reason VARCHAR, raw VARCHAR)""",
]


class Store:
    """A DuckDB database file holding the canonical tables and what is derived from them."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:  # locked by another process, unreadable ...
            raise ConfigError(f"cannot open the store {self.path}: {exc}") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.RLock()
        self._ibis = None
        if not read_only:
            self.ensure_schema()

    # -- schema ------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        with self.transaction() as con:
            for t in TABLES.values():
                con.execute(_ddl(t, EVENT_INTERNAL if t.name == "events" else ()))
            for stmt in BOOK_DDL:
                con.execute(stmt)
            con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    # -- transactions -----------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commit when the block ends, roll back on any exception."""
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            else:
                self.con.execute("COMMIT")

    # -- reading ----------------------------------------------------------------------
    def sql(self, query: str, params: list | None = None) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query, params=params) if params else self.con.sql(query)

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Another connection to the same database, for queries run from another thread.

        It sees the tables, not this connection's TEMP objects (a segment scope's views)."""
        cur = self.con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur
        finally:
            cur.close()

    def fetch(self, query: str, params: list | None = None) -> list[tuple]:
        with self._lock:
            return self.con.execute(query, params or []).fetchall()

    def scalar(self, query: str, params: list | None = None):
        rows = self.fetch(query, params)
        return rows[0][0] if rows else None

    def has_table(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            )
        )

    def meta(self, key: str, default: str | None = None) -> str | None:
        v = self.scalar("SELECT value FROM meta WHERE key = ?", [key])
        return default if v is None else v

    def set_meta(self, key: str, value: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
        (con or self.con).execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, str(value)])

    # -- segment scope -----------------------------------------------------------------
    @contextlib.contextmanager
    def scoped(self, members_sql: str, params: list | None = None) -> Iterator["Store"]:
        """Inside the block, every query sees only the persons ``members_sql`` returns.

        ``members_sql`` selects a ``person_id`` column. DuckDB resolves an unqualified
        name to a TEMP object first, also inside views of ``main``; so temp views named like
        the journey tables, each a filter of the ``main`` table of that name, narrow every
        analysis without changing it. Customers and feedback keep the rows of the members'
        customer ids (the person id itself, ``persons.customer_id`` and ``identity_map``).
        The views belong to this connection; they are dropped on exit, also on errors.
        """
        with self._lock:
            if self.scalar("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                           "AND table_name = '_scope_persons'"):
                raise ConfigError("segment scopes do not nest: leave the current one first")
            db = '"' + str(self.scalar("SELECT current_database()")).replace('"', '""') + '"'
            main = {r[0] for r in self.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_catalog = current_database()")}
            made: list[str] = []
            try:
                self.con.execute("CREATE TEMP TABLE _scope_persons AS SELECT DISTINCT "
                                 f"CAST(person_id AS VARCHAR) AS person_id FROM ({members_sql})",
                                 params or [])
                made.append("TABLE _scope_persons")
                ids = ["SELECT person_id FROM _scope_persons"]
                if "persons" in main:
                    ids.append(f"SELECT customer_id FROM {db}.main.persons "
                               "WHERE person_id IN (SELECT person_id FROM _scope_persons)")
                if "identity_map" in main:
                    ids.append(f"SELECT id FROM {db}.main.identity_map WHERE id_kind = 'customer' "
                               "AND person_id IN (SELECT person_id FROM _scope_persons)")
                self.con.execute("CREATE TEMP TABLE _scope_customers AS SELECT DISTINCT * FROM ("
                                 + " UNION ".join(ids) + ") c(customer_id) WHERE customer_id IS NOT NULL")
                made.append("TABLE _scope_customers")
                keys = (f"person_key IN (SELECT person_key FROM {db}.main.persons "
                        "WHERE person_id IN (SELECT person_id FROM _scope_persons))")
                person = "person_id IN (SELECT person_id FROM _scope_persons)"
                customer = "customer_id IN (SELECT customer_id FROM _scope_customers)"
                filters = {"journey_view": person, "persons": person, "journey_events": keys,
                           "stage_history": keys, "person_stage": keys, "customers": customer,
                           "feedback": customer}
                for name, where in filters.items():
                    if name in main and (name == "journey_view" or "persons" in main
                                         or name in ("customers", "feedback")):
                        self.con.execute(f'CREATE TEMP VIEW "{name}" AS '
                                         f'SELECT * FROM {db}.main."{name}" WHERE {where}')
                        made.append(f'VIEW "{name}"')
                yield self
            finally:
                for obj in reversed(made):
                    self.con.execute(f"DROP {obj.split()[0]} IF EXISTS temp.main.{obj.split()[1]}")

    @property
    def ibis(self):
        """An Ibis backend over the same connection: analyses build expressions on it."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def table(self, name: str):
        return self.ibis.table(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
