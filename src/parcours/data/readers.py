"""Stage a source (CSV, JSON Lines, Parquet, a data frame) into a temporary DuckDB table.

Every format ends as the same shape, so validation is written once: one column per source
column (renamed by the column mapping), plus ``_row`` (where the row stands in the source,
for error messages) and ``_raw`` (the source line for JSON Lines; the importer rebuilds it from the
columns for other formats, for rejected rows only). Structural errors the reader itself finds
(a CSV line with too many columns, bytes that are not UTF-8, a JSON line that does not parse)
come back in ``Staged.rejects``.

``_row`` is the line number for text files (a CSV header is line 1) and the 1-based row
position for Parquet files and data frames.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import DataError

FORMATS = ("csv", "jsonl", "parquet", "json")


@dataclass
class Staged:
    table: str  # temp table name
    columns: list[str]  # source column names after mapping (without _row/_raw)
    rows: int
    rejects: list[dict] = field(default_factory=list)  # {row, column, reason, raw}
    is_view: bool = False
    extra: list[str] = field(default_factory=list)  # helper tables to drop with it


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"), (".tsv", "csv"),
                        (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json")):
        if name.endswith(suffix) or name.endswith(suffix + ".gz"):
            return fmt
    raise DataError(f"{path}: unknown file format (expected .csv, .jsonl, .json or .parquet)")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rename(columns: list[str], mapping: dict[str, str]) -> list[tuple[str, str]]:
    """(source, target) pairs; unmapped columns keep their name, lower-cased."""
    out = []
    for c in columns:
        out.append((c, mapping.get(c, mapping.get(c.lower(), c.strip().lower()))))
    targets = [t for _, t in out]
    dup = {t for t in targets if targets.count(t) > 1}
    if dup:
        raise DataError(f"two source columns map to the same name: {', '.join(sorted(dup))}")
    return out


def _new_name() -> str:
    return "_stage_" + uuid.uuid4().hex[:12]


def _structural_rejects(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    rows = con.execute(
        f"SELECT line, column_name, error_type, csv_line, error_message FROM {table} ORDER BY line"
    ).fetchall()
    return [
        {"row": int(line) if line is not None else None, "column": col,
         "reason": f"{etype.lower()}: {msg}", "raw": raw}
        for line, col, etype, raw, msg in rows
    ]


def _line_of(ordinal: str, bad: str, first_line: int) -> str:
    """Source line of the n-th record the reader kept, counting back the lines it dropped.

    With the dropped lines sorted and numbered k = 0, 1, ..., the line ``line - k`` is
    where the record counter stood when the reader dropped it; every dropped line whose
    counter is at or before ours pushes our line one further.
    """
    base = f"{ordinal} + {first_line - 1}"
    return f"{base} + (SELECT count(*) FROM {bad} b WHERE b.line - b.k <= {base})"


def _bad_lines(con, name: str, rejects: list[dict]) -> str:
    bad = name + "_bad"
    con.execute(f"CREATE TEMP TABLE {bad} (line BIGINT, k BIGINT)")
    lines = sorted(r["row"] for r in rejects if r["row"] is not None)
    if lines:
        con.executemany(f"INSERT INTO {bad} VALUES (?, ?)", list(zip(lines, range(len(lines)))))
    return bad


def stage_csv(con, path: Path, mapping: dict[str, str], delimiter: str | None = None) -> Staged:
    name = _new_name()
    rej, scan = name + "_rej", name + "_scan"
    opts = [
        "header=true", "all_varchar=true", "store_rejects=true",
        f"rejects_table={_lit(rej)}", f"rejects_scan={_lit(scan)}",
    ]
    if delimiter:
        opts.append(f"delim={_lit(delimiter)}")
    elif path.name.lower().endswith((".tsv", ".tsv.gz")):
        opts.append("delim='\\t'")
    try:
        con.execute(
            f"CREATE TEMP TABLE {name}_src AS SELECT * "
            f"FROM read_csv({_lit(str(path))}, {', '.join(opts)}) WITH ORDINALITY AS s"
        )
    except duckdb.Error as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from exc
    rejects = _structural_rejects(con, rej)
    src_cols = [r[0] for r in con.execute(f"DESCRIBE {name}_src").fetchall() if r[0] != "ordinality"]
    pairs = _rename(src_cols, mapping)
    select = ", ".join(f"{_q(s)} AS {_q(t)}" for s, t in pairs)
    # rows after a dropped line are shifted; without dropped lines the row is the ordinal + 1
    row = _line_of("ordinality", _bad_lines(con, name, rejects), 2) if rejects else "ordinality + 1"
    con.execute(
        f"""CREATE TEMP VIEW {name} AS
        SELECT {select}, {row} AS _row, NULL::VARCHAR AS _raw FROM {name}_src"""
    )
    n = con.execute(f"SELECT count(*) FROM {name}_src").fetchone()[0]
    return Staged(name, [t for _, t in pairs], n, rejects, is_view=True, extra=[f"{name}_src", f"{name}_bad"])


def stage_jsonl(con, path: Path, mapping: dict[str, str]) -> Staged:
    """One JSON object per line; a line that is not a JSON object is rejected, the rest kept."""
    name = _new_name()
    rej, scan = name + "_rej", name + "_scan"
    try:
        con.execute(
            f"""CREATE TEMP TABLE {name}_lines AS SELECT * FROM read_csv({_lit(str(path))},
                columns={{'j': 'VARCHAR'}}, header=false, delim='\\x1e', quote='', escape='',
                auto_detect=false, store_rejects=true,
                rejects_table={_lit(rej)}, rejects_scan={_lit(scan)}) WITH ORDINALITY AS s"""
        )
    except duckdb.Error as exc:
        raise DataError(f"{path}: cannot read as JSON Lines: {exc}") from exc
    rejects = _structural_rejects(con, rej)
    bad = _bad_lines(con, name, rejects)
    con.execute(
        f"""CREATE TEMP TABLE {name}_obj AS SELECT {_line_of('ordinality', bad, 1)} AS _row, j,
              CASE WHEN j IS NULL OR trim(j) = '' THEN 'blank'
                   WHEN NOT json_valid(j) THEN 'invalid'
                   WHEN json_type(j) <> 'OBJECT' THEN 'not_object' END AS _problem
            FROM {name}_lines"""
    )
    con.execute(f"DROP TABLE {name}_lines")
    con.execute(f"DROP TABLE {bad}")
    for row, problem, raw in con.execute(
        f"SELECT _row, _problem, j FROM {name}_obj WHERE _problem IN ('invalid', 'not_object') ORDER BY _row"
    ).fetchall():
        reason = "broken JSON: the line does not parse" if problem == "invalid" else "not a JSON object"
        rejects.append({"row": row, "column": None, "reason": reason, "raw": raw})
    keys = [r[0] for r in con.execute(
        f"SELECT DISTINCT unnest(json_keys(j)) AS k FROM {name}_obj WHERE _problem IS NULL ORDER BY k"
    ).fetchall()]
    pairs = _rename(keys, mapping)
    # Nested values stay JSON text (properties, attributes); scalars become text to be cast.
    cols = ", ".join(
        f"CASE WHEN json_type(j, {_lit('$.' + _jpath(s))}) IN ('OBJECT', 'ARRAY') "
        f"THEN json_extract(j, {_lit('$.' + _jpath(s))})::VARCHAR "
        f"ELSE json_extract_string(j, {_lit('$.' + _jpath(s))}) END AS {_q(t)}"
        for s, t in pairs
    )
    con.execute(
        f"""CREATE TEMP TABLE {name} AS SELECT {cols + ',' if cols else ''} _row, j AS _raw
            FROM {name}_obj WHERE _problem IS NULL"""
    )
    con.execute(f"DROP TABLE {name}_obj")
    n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return Staged(name, [t for _, t in pairs], n, rejects)


def _jpath(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'


def stage_parquet(con, path: Path, mapping: dict[str, str]) -> Staged:
    name = _new_name()
    try:
        cols = [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_lit(str(path))})").fetchall()]
        pairs = _rename(cols, mapping)
        select = ", ".join(f"{_q(s)} AS {_q(t)}" for s, t in pairs)
        con.execute(
            f"""CREATE TEMP VIEW {name} AS SELECT {select}, file_row_number + 1 AS _row, NULL::VARCHAR AS _raw
                FROM read_parquet({_lit(str(path))}, file_row_number=true)"""
        )
        n = con.execute(
            f"SELECT sum(num_rows) FROM parquet_file_metadata({_lit(str(path))})").fetchone()[0] or 0
    except duckdb.Error as exc:
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from exc
    return Staged(name, [t for _, t in pairs], int(n), [], is_view=True)


def to_arrow(frame):
    """pandas, Polars or Arrow to an Arrow table (no copy where the library allows)."""
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    mod = type(frame).__module__
    if mod.startswith("polars"):
        return frame.to_arrow()
    if mod.startswith("pandas"):
        return pa.Table.from_pandas(frame, preserve_index=False)
    if isinstance(frame, list):
        return pa.Table.from_pylist(frame)
    raise DataError(f"cannot import a {type(frame).__name__}: pass a pandas, Polars or Arrow table")


def stage_frame(con, frame, mapping: dict[str, str]) -> Staged:
    import pyarrow as pa

    table = to_arrow(frame)
    name = _new_name()
    pairs = _rename(table.column_names, mapping)
    table = table.rename_columns([t for _, t in pairs])
    if "_row" in table.column_names:  # the caller knows where each row came from
        pairs = [(s, t) for s, t in pairs if t != "_row"]
    else:
        table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    con.register(name + "_arrow", table)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT *, NULL::VARCHAR AS _raw FROM {name}_arrow")
    con.unregister(name + "_arrow")
    return Staged(name, [t for _, t in pairs], table.num_rows, [])


def stage_file(con, path: Path, fmt: str, mapping: dict[str, str], delimiter: str | None = None) -> Staged:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        return Staged("", [], 0, [{"row": None, "column": None, "reason": "empty file", "raw": None}])
    if fmt == "csv":
        return stage_csv(con, path, mapping, delimiter)
    if fmt == "jsonl":
        return stage_jsonl(con, path, mapping)
    if fmt == "parquet":
        return stage_parquet(con, path, mapping)
    raise DataError(f"{path}: format {fmt!r} is not a table format")


def drop(con, staged: Staged) -> None:
    """Drop the staging table; after a failed statement the rollback drops it anyway."""
    if staged.table:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DROP {'VIEW' if staged.is_view else 'TABLE'} IF EXISTS {staged.table}")
            for t in staged.extra:
                con.execute(f"DROP TABLE IF EXISTS {t}")
