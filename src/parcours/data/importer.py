"""Import files and data frames into the store: stage, validate, deduplicate, write.

One source is one transaction: its good rows, its rejects and its entry in ``imports`` are
committed together or not at all, so a process killed mid-import leaves the store as it was.
Re-importing the same rows imports nothing twice: events and feedback are keyed by their id,
or by a content hash when the source has none; customers are merged by id; spend rows by
their whole content.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import ConfigError, DataError
from . import readers
from .readers import Staged, _lit, _q
from .schema import IMPORT_KINDS, TABLES, Table
from .store import Store
from .validate import error_exprs, feedback_score_errors, typed_expr


@dataclass
class ImportReport:
    """What one call imported; ``rejects`` holds the first few for display."""

    imported: int = 0
    rejected: int = 0
    duplicates: int = 0
    rows: int = 0
    files: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        self.imported += other.imported
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.rows += other.rows
        self.files.extend(other.files)
        self.rejects.extend(other.rejects[: max(0, 20 - len(self.rejects))])

    def to_dict(self) -> dict:
        return {"imported": self.imported, "rejected": self.rejected, "duplicates": self.duplicates}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.files)


def failpoint(name: str) -> None:
    """Crash here on purpose when PARCOURS_FAILPOINT names this point (crash-safety tests)."""
    if os.environ.get("PARCOURS_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def parse_mapping(items) -> dict[str, str]:
    """``["userId=customer_id", ...]`` or a dict to {source: target}."""
    if not items:
        return {}
    if isinstance(items, dict):
        return dict(items)
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--map expects SOURCE=TARGET, got {item!r}")
        src, dst = item.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


# -- the SQL of one import ---------------------------------------------------------------


def _source_types(con, staged: Staged) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {staged.table}").fetchall()}


def _content_hash(table: Table, prefix: str = "t_") -> str:
    parts = [f"coalesce(CAST({prefix}{c.name} AS VARCHAR), '')" for c in table.columns if c.name != table.key]
    return "'h:' || md5(concat_ws(chr(31), " + ", ".join(parts) + "))"


def _check(con, staged: Staged, table: Table, tz: str) -> str:
    """A temp view of typed columns (t_*), ``_ok``, the row's errors and its raw text.

    A view, not a table: the rows are read once more to be written, which costs less than
    materialising millions of rows in between. The error list is only built for bad rows.
    """
    types = _source_types(con, staged)
    canon = table.names
    typed = {c: typed_expr(table, c, types.get(c), tz) for c in canon}
    errors: list[tuple[str, str, str]] = []
    for c in canon:
        errors += error_exprs(table, c, types.get(c), f"t_{c}")
    if table.one_of:
        errors.append((" AND ".join(f"t_{c} IS NULL" for c in table.one_of),
                       _lit("|".join(table.one_of)),
                       _lit("no " + " nor ".join(table.one_of) + ": the row names nobody")))
    if table.name == "feedback":
        errors += feedback_score_errors("t_kind", "t_score")
    extras = [c for c in staged.columns if c not in canon]
    if table.name == "events" and extras:
        # merge-patching into {} drops the null members, so empty cells add nothing
        packed = ("NULLIF(json_merge_patch('{}', to_json(struct_pack("
                  + ", ".join(f"{_q(c)} := {_q(c)}" for c in extras) + ")))::VARCHAR, '{}')")
        typed["properties"] = (
            f"CASE WHEN ({typed['properties']}) IS NULL THEN {packed} "
            f"WHEN json_valid({typed['properties']}) THEN json_merge_patch({packed}, {typed['properties']})::VARCHAR "
            f"ELSE {typed['properties']} END"
        )
    raw = ("to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in staged.columns) + "))::VARCHAR"
           if staged.columns else "NULL")
    # coalesce: a condition on a NULL value is no error
    ok = "NOT (" + " OR ".join(f"coalesce({c}, false)" for c, _, _ in errors) + ")" if errors else "true"
    structs = [f"CASE WHEN {c} THEN {{'column': {col}, 'reason': {reason}}} END" for c, col, reason in errors]
    err_list = "list_filter([" + ", ".join(structs) + "], lambda e: e IS NOT NULL)" if errors else "[]"
    name = staged.table + "_checked"
    # typed values are computed once (inner), checked once (middle), errors spelt out only
    # for bad rows (outer)
    # Text sources pay for parsing: parse once into a table. Typed sources (Parquet, frames)
    # are cheap to re-read, so a view saves writing millions of rows in between.
    kind = "VIEW" if staged.is_view and staged.table and not staged.extra else "TABLE"
    con.execute(
        f"""CREATE TEMP {kind} {name} AS
        SELECT {', '.join(f't_{c}' for c in canon)}, _row, _ok,
               CASE WHEN NOT _ok THEN {err_list} END AS _errors,
               CASE WHEN NOT _ok THEN coalesce(_raw, {raw}) END AS _raw
        FROM (SELECT *, {ok} AS _ok FROM
              (SELECT *, {', '.join(f'{typed[c]} AS t_{c}' for c in canon)} FROM {staged.table}))"""
    )
    return name


def _write_rejects(con, import_id: int, file: str, kind: str, checked: str, staged: Staged, bad: int) -> int:
    if bad:
        con.execute(
            f"""INSERT INTO rejects
            SELECT ?, ?, ?, _row, e.column, e.reason, _raw
            FROM (SELECT _row, _raw, unnest(_errors) AS e FROM {checked} WHERE NOT _ok)
            ORDER BY _row""",
            [import_id, file, kind],
        )
    if staged.rejects:
        con.executemany(
            "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(import_id, file, kind, r["row"], r["column"], r["reason"], r["raw"]) for r in staged.rejects],
        )
    return bad + len(staged.rejects)


def _write_keyed(con, table: Table, checked: str, import_id: int, unique_in_file: bool) -> int:
    """Events and feedback: key or content hash; skip keys already stored or seen earlier in the file."""
    key = table.key
    cols = [c for c in table.names if c != key]
    internal = ""
    if table.name == "events":
        base = con.execute("SELECT coalesce(max(_seq), 0) FROM events").fetchone()[0]
        internal = f", {int(base)} + _row, {import_id}"
    keyed = f"(SELECT coalesce(t_{key}, {_content_hash(table)}) AS k, * FROM {checked} WHERE _ok)"
    # a window over millions of keys costs more than checking first whether any repeats
    first_of_key = "" if unique_in_file else f"AND _row IN (SELECT min(_row) FROM {keyed} GROUP BY k)"
    before = con.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
    con.execute(
        f"""INSERT INTO "{table.name}"
        SELECT k, {', '.join('t_' + c for c in cols)}{internal}
        FROM {keyed} n
        WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" o WHERE o.{key} = n.k) {first_of_key}"""
    )
    after = con.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
    return int(after - before)


def _write_customers(con, checked: str) -> int:
    """Merge by customer_id, within the file and with the store: later values win, attributes
    are merged key by key (JSON merge patch)."""
    new = f"{checked}_last"
    con.execute(
        f"""CREATE TEMP TABLE {new} AS
        SELECT t_customer_id AS customer_id,
               arg_max(t_account_id, _row) FILTER (t_account_id IS NOT NULL) AS account_id,
               arg_max(t_created_at, _row) FILTER (t_created_at IS NOT NULL) AS created_at,
               list_reduce(list(t_attributes::JSON ORDER BY _row) FILTER (t_attributes IS NOT NULL),
                           lambda a, b: json_merge_patch(a, b)) AS attributes
        FROM {checked} WHERE _ok GROUP BY t_customer_id"""
    )
    merged = f"{checked}_merged"
    con.execute(
        f"""CREATE TEMP TABLE {merged} AS
        SELECT n.customer_id,
               coalesce(n.account_id, o.account_id) AS account_id,
               coalesce(n.created_at, o.created_at) AS created_at,
               CASE WHEN o.attributes IS NULL THEN n.attributes::JSON
                    WHEN n.attributes IS NULL THEN o.attributes
                    ELSE json_merge_patch(o.attributes, n.attributes) END AS attributes,
               o.customer_id IS NOT NULL AS existed,
               o.account_id AS o_account, o.created_at AS o_created, o.attributes AS o_attributes
        FROM {new} n LEFT JOIN customers o USING (customer_id)"""
    )
    con.execute(
        f"""DELETE FROM {merged} WHERE existed
              AND account_id IS NOT DISTINCT FROM o_account
              AND created_at IS NOT DISTINCT FROM o_created
              AND attributes::VARCHAR IS NOT DISTINCT FROM o_attributes::VARCHAR"""
    )
    con.execute(f"DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM {merged})")
    con.execute(
        f"INSERT INTO customers SELECT customer_id, account_id, created_at, attributes FROM {merged}"
    )
    n = con.execute(f"SELECT count(*) FROM {merged}").fetchone()[0]
    con.execute(f"DROP TABLE {new}")
    con.execute(f"DROP TABLE {merged}")
    return int(n)


def _write_spend(con, checked: str) -> int:
    before = con.execute("SELECT count(*) FROM spend").fetchone()[0]
    con.execute(
        f"""INSERT INTO spend
        SELECT DISTINCT t_date, t_channel, t_campaign, t_amount, t_currency FROM {checked} n
        WHERE _ok AND NOT EXISTS (
            SELECT 1 FROM spend o WHERE o.date = n.t_date AND o.channel = n.t_channel
              AND o.campaign IS NOT DISTINCT FROM n.t_campaign AND o.amount = n.t_amount
              AND o.currency IS NOT DISTINCT FROM n.t_currency)"""
    )
    return int(con.execute("SELECT count(*) FROM spend").fetchone()[0] - before)


def import_staged(con, staged: Staged, kind: str, import_id: int, file: str, tz: str = "UTC") -> ImportReport:
    """Validate and write one staged source inside the caller's transaction."""
    table = TABLES[kind]
    report = ImportReport(rows=staged.rows + len(staged.rejects))
    if not staged.table:  # empty file: nothing staged, one file-level reject
        report.rejected = _write_rejects_only(con, import_id, file, kind, staged)
        report.rows = 0
        return report
    if not staged.columns:
        raise DataError(f"{file}: no columns found")
    checked = _check(con, staged, table, tz)
    # one pass for the counts decides which of the costlier statements are needed
    key = f"coalesce(t_{table.key}, {_content_hash(table)})" if table.key and kind != "customers" else "NULL"
    good, bad, distinct = con.execute(
        f"SELECT count(*) FILTER (_ok), count(*) FILTER (NOT _ok), count(DISTINCT {key}) FILTER (_ok) FROM {checked}"
    ).fetchone()
    report.rejected = _write_rejects(con, import_id, file, kind, checked, staged, int(bad))
    failpoint("after_validate")
    if kind in ("events", "feedback"):
        report.imported = _write_keyed(con, table, checked, import_id, unique_in_file=distinct == good)
    elif kind == "customers":
        report.imported = _write_customers(con, checked)
    elif kind == "spend":
        report.imported = _write_spend(con, checked)
    report.duplicates = int(good) - report.imported
    report.rejects = [
        {"file": file, "row": r[0], "column": r[1], "reason": r[2]}
        for r in con.execute(
            "SELECT \"row\", \"column\", reason FROM rejects WHERE import_id = ? ORDER BY \"row\" NULLS FIRST LIMIT 20",
            [import_id],
        ).fetchall()
    ]
    is_view = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [checked]).fetchone()[0]
    con.execute(f"DROP {'VIEW' if is_view else 'TABLE'} {checked}")
    return report


def _write_rejects_only(con, import_id, file, kind, staged: Staged) -> int:
    con.executemany(
        "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(import_id, file, kind, r["row"], r["column"], r["reason"], r["raw"]) for r in staged.rejects],
    )
    return len(staged.rejects)


def _begin_import(con, file: str, kind: str, fmt: str) -> int:
    import_id = con.execute("SELECT nextval('import_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, timezone('UTC', now()), NULL, NULL, NULL, NULL, NULL)",
        [import_id, file, kind, fmt],
    )
    return int(import_id)


def _finish_import(con, import_id: int, report: ImportReport) -> None:
    con.execute(
        """UPDATE imports SET finished_at = timezone('UTC', now()), rows = ?, imported = ?, rejected = ?,
           duplicates = ? WHERE import_id = ?""",
        [report.rows, report.imported, report.rejected, report.duplicates, import_id],
    )


def _check_kind(kind: str) -> None:
    if kind not in IMPORT_KINDS:
        raise ConfigError(f"unknown kind {kind!r}: expected one of {', '.join(IMPORT_KINDS)}")


def import_file(store: Store, path, kind: str = "events", mapping=None, tz: str = "UTC",
                fmt: str | None = None, delimiter: str | None = None) -> ImportReport:
    """Import one file atomically; bad rows are kept in ``rejects``, good rows imported."""
    _check_kind(kind)
    path = Path(path)
    mapping = parse_mapping(mapping)
    fmt = fmt or readers.detect_format(path)
    if kind == "segment" or fmt == "json":
        from .segment_import import import_segment_file

        return import_segment_file(store, path, tz=tz)
    _check_timezone(store, tz)
    with store.transaction() as con:
        import_id = _begin_import(con, str(path), kind, fmt)
        staged = readers.stage_file(con, path, fmt, mapping, delimiter)
        try:
            with session_timezone(con, tz):
                report = import_staged(con, staged, kind, import_id, str(path), tz)
        finally:
            readers.drop(con, staged)
        _finish_import(con, import_id, report)
        failpoint("before_commit")
    report.files.append({"file": str(path), "kind": kind, "format": fmt, **report.to_dict()})
    return report


def import_frame(store: Store, frame, kind: str = "events", mapping=None, tz: str = "UTC",
                 name: str = "<frame>") -> ImportReport:
    """Import a pandas, Polars or Arrow table (or a list of dicts), atomically."""
    _check_kind(kind)
    if kind == "segment":
        from .segment_import import import_segment_messages

        # a list of messages stays as it is: a table would add every other message's keys as nulls
        messages = frame if isinstance(frame, list) else readers.to_arrow(frame).to_pylist()
        return import_segment_messages(store, messages, name=name)
    _check_timezone(store, tz)
    mapping = parse_mapping(mapping)
    with store.transaction() as con:
        import_id = _begin_import(con, name, kind, "frame")
        staged = readers.stage_frame(con, frame, mapping)
        try:
            with session_timezone(con, tz):
                report = import_staged(con, staged, kind, import_id, name, tz)
        finally:
            readers.drop(con, staged)
        _finish_import(con, import_id, report)
    report.files.append({"file": name, "kind": kind, "format": "frame", **report.to_dict()})
    return report


def _check_timezone(store: Store, tz: str) -> None:
    try:
        store.con.execute("SELECT timezone(?, TIMESTAMP '2000-01-01')", [tz]).fetchone()
    except duckdb.Error as exc:
        raise ConfigError(f"unknown time zone {tz!r}") from exc


@contextlib.contextmanager
def session_timezone(con, tz: str):
    """Naive source times are read in ``tz`` while an import runs; the store is UTC otherwise."""
    con.execute(f"SET TimeZone = {_lit(tz)}")
    try:
        yield
    finally:
        con.execute("SET TimeZone = 'UTC'")


def list_rejects(store: Store, file: str | None = None, limit: int | None = None):
    """The rejects table as a pandas frame, newest import first."""
    q = 'SELECT import_id, file, kind, "row", "column", reason, raw FROM rejects'
    params = []
    if file:
        q += " WHERE file = ?"
        params.append(file)
    q += ' ORDER BY import_id DESC, "row" NULLS FIRST'
    if limit:
        q += f" LIMIT {int(limit)}"
    return store.con.execute(q, params).df()


__all__ = ["ImportReport", "import_file", "import_frame", "list_rejects", "parse_mapping"]
