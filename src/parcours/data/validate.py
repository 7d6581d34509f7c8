"""Typed columns and per-row errors for a staged source, as SQL expressions.

Validation runs inside DuckDB (vectorised): for each canonical column, one expression that
casts the staged value to its type and one that names what is wrong with it. A row with no
error is imported; a row with errors is rejected with one reject line per faulty column.
"""

from __future__ import annotations

from .readers import _lit, _q
from .schema import FEEDBACK_KINDS, FEEDBACK_SCALES, Table

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")


def _is_numeric(t: str) -> bool:
    return t.upper().startswith(NUMERIC) or t.upper().startswith("DECIMAL")


def _text(col: str, src_type: str) -> str:
    """Source value as trimmed text, NULL when empty."""
    base = _q(col) if src_type.upper() == "VARCHAR" else f"CAST({_q(col)} AS VARCHAR)"
    return f"NULLIF(trim({base}), '')"


def timestamp_expr(col: str, src_type: str, tz: str) -> str:
    """A UTC TIMESTAMP from ISO text (offsets applied, naive text read in ``tz``), epoch
    seconds or milliseconds, or a native timestamp/date column (naive ones read in ``tz``)."""
    t = src_type.upper()
    c = _q(col)

    def epoch(x: str) -> str:
        return (f"timezone('UTC', to_timestamp(CASE WHEN abs({x}) >= 1e11 THEN {x} / 1000.0 "
                f"ELSE {x} END))")

    if "WITH TIME ZONE" in t:
        return f"timezone('UTC', {c})"
    if t.startswith("TIMESTAMP") or t == "DATE":
        if tz == "UTC":
            return f"CAST({c} AS TIMESTAMP)"
        return f"timezone('UTC', timezone({_lit(tz)}, CAST({c} AS TIMESTAMP)))"
    if _is_numeric(t):
        return epoch(f"CAST({c} AS DOUBLE)")
    # Text: the session time zone is the import's while it runs (see importer), so a cast
    # to TIMESTAMPTZ applies explicit offsets and reads naive times in ``tz``. Epoch numbers
    # are tried only where that cast failed.
    txt = _text(col, src_type)
    return (f"coalesce(timezone('UTC', TRY_CAST({txt} AS TIMESTAMPTZ)), "
            f"CASE WHEN regexp_full_match({txt}, '-?[0-9]{{9,}}(\\.[0-9]+)?') "
            f"THEN {epoch(f'TRY_CAST({txt} AS DOUBLE)')} END)")


def typed_expr(table: Table, col: str, src_type: str | None, tz: str) -> str:
    """Cast of one canonical column (NULL when the source lacks it)."""
    target = table.column(col).type
    if src_type is None:
        return f"NULL::{target if target != 'JSON' else 'VARCHAR'}"
    c = _q(col)
    if target == "TIMESTAMP":
        return timestamp_expr(col, src_type, tz)
    if target == "DATE":
        if src_type.upper() == "DATE" or src_type.upper().startswith("TIMESTAMP"):
            return f"CAST({c} AS DATE)"
        return f"TRY_CAST({_text(col, src_type)} AS DATE)"
    if target == "DOUBLE":
        if _is_numeric(src_type):
            return f"CAST({c} AS DOUBLE)"
        return f"TRY_CAST(replace({_text(col, src_type)}, ',', '.') AS DOUBLE)"
    if target == "JSON":
        if src_type.upper().startswith(("STRUCT", "MAP")):
            return f"CAST(to_json({c}) AS VARCHAR)"
        return _text(col, src_type)
    # VARCHAR
    expr = _text(col, src_type)
    if col == "currency":
        expr = f"upper({expr})"
    if col == "kind":
        expr = f"lower({expr})"
    return expr


def error_exprs(table: Table, col: str, src_type: str | None, typed: str) -> list[tuple[str, str, str]]:
    """(condition, column, reason) triples: the row is wrong where the condition holds."""
    spec = table.column(col)
    out: list[tuple[str, str, str]] = []

    def err(cond: str, reason_sql: str) -> None:
        out.append((cond, _lit(col), reason_sql))

    if src_type is None:
        if spec.required:
            err("true", _lit(f"required column '{col}' is missing from the source"))
        return out
    txt = _text(col, src_type)
    shown = f"left({txt}, 60)"
    text_source = src_type.upper() in ("VARCHAR", "JSON")
    # a natively typed source (Parquet, data frames) is empty when NULL and cannot fail to
    # parse; only text needs trimming and parsing
    if spec.required:
        err(f"{txt} IS NULL" if text_source else f"{_q(col)} IS NULL", _lit("required value is empty"))
    if spec.type in ("TIMESTAMP", "DATE", "DOUBLE") and text_source:
        what = {"TIMESTAMP": "unparseable timestamp", "DATE": "unparseable date",
                "DOUBLE": "not a number"}[spec.type]
        err(f"{txt} IS NOT NULL AND ({typed}) IS NULL", f"{_lit(what + ': ')} || {shown}")
    if spec.type == "TIMESTAMP":
        err(f"({typed}) IS NOT NULL AND (year({typed}) < 1900 OR year({typed}) > 2200)",
            f"'timestamp out of range (1900-2200): ' || CAST({typed} AS VARCHAR)")
    if spec.type == "DOUBLE":
        err(f"({typed}) IS NOT NULL AND NOT isfinite({typed})", f"'not a finite number: ' || {shown}")
    if spec.max_length and spec.type in ("VARCHAR", "JSON"):
        err(f"length({typed}) > {spec.max_length}",
            f"'too long: ' || length({typed}) || ' characters (at most {spec.max_length})'")
    if spec.type == "JSON":
        err(f"({typed}) IS NOT NULL AND NOT json_valid({typed})", f"'invalid JSON: ' || left({typed}, 60)")
        # CASE, not AND: json_type raises on invalid JSON and AND does not short-circuit
        err(f"CASE WHEN json_valid({typed}) THEN json_type({typed}) <> 'OBJECT' ELSE false END",
            _lit("expected a JSON object"))
    if col == "currency":
        err(f"({typed}) IS NOT NULL AND NOT regexp_full_match({typed}, '[A-Z]{{3}}')",
            f"'not an ISO 4217 currency code: ' || {shown}")
    if table.name == "feedback" and col == "kind":
        kinds = ", ".join(_lit(k) for k in FEEDBACK_KINDS)
        err(f"({typed}) IS NOT NULL AND ({typed}) NOT IN ({kinds})",
            f"'unknown kind ' || {shown} || ' (expected one of {', '.join(FEEDBACK_KINDS)})'")
    return out


def feedback_score_errors(typed_kind: str, typed_score: str) -> list[tuple[str, str, str]]:
    return [
        (f"{typed_kind} = {_lit(kind)} AND {typed_score} IS NOT NULL AND "
         f"({typed_score} < {lo} OR {typed_score} > {hi})", "'score'",
         f"'score ' || {typed_score} || ' outside the {kind} scale {lo}-{hi}'")
        for kind, (lo, hi) in FEEDBACK_SCALES.items()
    ]
