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
        return f"timezone('UTC', timezone({_lit(tz)}, CAST({c} AS TIMESTAMP)))"
    if _is_numeric(t):
        return epoch(f"CAST({c} AS DOUBLE)")
    txt = _text(col, src_type)
    return (f"CASE WHEN regexp_full_match({txt}, '-?[0-9]{{9,}}(\\.[0-9]+)?') "
            f"THEN {epoch(f'TRY_CAST({txt} AS DOUBLE)')} "
            f"WHEN regexp_matches({txt}, '(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
            f"AND regexp_matches({txt}, '[0-9]{{2}}:[0-9]{{2}}') "
            f"THEN timezone('UTC', TRY_CAST({txt} AS TIMESTAMPTZ)) "
            f"ELSE timezone('UTC', timezone({_lit(tz)}, TRY_CAST({txt} AS TIMESTAMP))) END")


def typed_expr(table: Table, col: str, src_type: str | None, tz: str) -> str:
    """Cast of one canonical column (NULL when the source lacks it)."""
    target = table.column(col).type
    if src_type is None:
        return f"NULL::{target if target != 'JSON' else 'VARCHAR'}"
    c = _q(col)
    if target == "TIMESTAMP":
        return timestamp_expr(col, src_type, tz)
    if target == "DATE":
        if src_type.upper() == "DATE":
            return c
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


def error_exprs(table: Table, col: str, src_type: str | None, typed: str) -> list[str]:
    """Expressions that are NULL when fine, else a struct {column, reason}."""
    spec = table.column(col)
    out: list[str] = []

    def err(cond: str, reason_sql: str) -> None:
        out.append(f"CASE WHEN {cond} THEN {{'column': {_lit(col)}, 'reason': {reason_sql}}} END")

    if src_type is None:
        if spec.required:
            err("true", _lit(f"required column '{col}' is missing from the source"))
        return out
    txt = _text(col, src_type)
    shown = f"left({txt}, 60)"
    if spec.required:
        err(f"{txt} IS NULL", _lit("required value is empty"))
    if spec.type in ("TIMESTAMP", "DATE", "DOUBLE"):
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
        err(f"({typed}) IS NOT NULL AND json_valid({typed}) AND json_type({typed}) <> 'OBJECT'",
            _lit("expected a JSON object"))
    if col == "currency":
        err(f"({typed}) IS NOT NULL AND NOT regexp_full_match({typed}, '[A-Z]{{3}}')",
            f"'not an ISO 4217 currency code: ' || {shown}")
    if table.name == "feedback" and col == "kind":
        kinds = ", ".join(_lit(k) for k in FEEDBACK_KINDS)
        err(f"({typed}) IS NOT NULL AND ({typed}) NOT IN ({kinds})",
            f"'unknown kind ' || {shown} || ' (expected one of {', '.join(FEEDBACK_KINDS)})'")
    return out


def feedback_score_errors(typed_kind: str, typed_score: str) -> list[str]:
    out = []
    for kind, (lo, hi) in FEEDBACK_SCALES.items():
        out.append(
            f"CASE WHEN {typed_kind} = {_lit(kind)} AND {typed_score} IS NOT NULL AND "
            f"({typed_score} < {lo} OR {typed_score} > {hi}) THEN {{'column': 'score', "
            f"'reason': 'score ' || {typed_score} || ' outside the {kind} scale {lo}-{hi}'}} END"
        )
    return out
