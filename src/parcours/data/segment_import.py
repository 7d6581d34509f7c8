"""Import Segment-spec messages (files or lists) as one transaction.

``segment.py`` turns messages into canonical rows; this module writes them through the same
validation as every other source (``importer.import_staged``), with the message's position
in the file as its row number, and stores identity links for stitching.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from . import readers
from .importer import ImportReport, _begin_import, _finish_import, failpoint, import_staged, session_timezone
from .schema import CUSTOMERS, EVENTS
from .segment import SegmentRows, parse_file, parse_messages
from .store import Store


def _frame(rows: list[dict], columns: list[str]) -> pa.Table:
    """Canonical columns plus ``_row``; dict values (properties, attributes) as JSON text."""
    data = {c: [_cell(r.get(c)) for r in rows] for c in columns}
    data["_row"] = [r["row"] for r in rows]
    return pa.table(data)


def _cell(v):
    return json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else v


def _write(store: Store, parsed: SegmentRows, name: str, fmt: str) -> ImportReport:
    report = ImportReport(rows=parsed.messages)
    with store.transaction() as con:
        import_id = _begin_import(con, name, "segment", fmt)
        with session_timezone(con, "UTC"):
            for kind, rows, table in (("events", parsed.events, EVENTS), ("customers", parsed.customers, CUSTOMERS)):
                if not rows:
                    continue
                staged = readers.stage_frame(con, _frame(rows, table.names), {})
                try:
                    part = import_staged(con, staged, kind, import_id, name)
                finally:
                    readers.drop(con, staged)
                report.imported += part.imported
                report.duplicates += part.duplicates
                report.rejected += part.rejected
        report.imported += _write_links(con, parsed.identities)
        if parsed.rejects:
            con.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(import_id, name, "segment", r.get("row"), r.get("column"), r["reason"], r.get("raw"))
                 for r in parsed.rejects],
            )
            report.rejected += len(parsed.rejects)
        _finish_import(con, import_id, report)
        report.rejects = [
            {"file": name, "row": r[0], "column": r[1], "reason": r[2]}
            for r in con.execute('SELECT "row", "column", reason FROM rejects WHERE import_id = ? '
                                 'ORDER BY "row" NULLS FIRST LIMIT 20', [import_id]).fetchall()
        ]
        failpoint("before_commit")
    report.files.append({"file": name, "kind": "segment", "format": fmt, **report.to_dict()})
    return report


def _write_links(con, links: list[dict]) -> int:
    """New identify/alias links, pending until the next stitch decides on them."""
    if not links:
        return 0
    # fetchall, not fetchone: DuckDB refuses register() while a result is left unfinished
    before = con.execute("SELECT count(*) FROM identities").fetchall()[0][0]
    con.register("_seg_links", pa.Table.from_pylist(
        [{"alias_id": l["alias_id"], "customer_id": l["customer_id"], "source": l["source"],
          "timestamp": l.get("timestamp")} for l in links]))
    con.execute("""
        INSERT INTO identities (alias_id, customer_id, source, timestamp)
        SELECT DISTINCT ON (alias_id, customer_id, source) alias_id, customer_id, source,
               timezone('UTC', "timestamp"::TIMESTAMPTZ)
        FROM _seg_links n
        WHERE NOT EXISTS (SELECT 1 FROM identities o WHERE o.alias_id = n.alias_id
                          AND o.customer_id = n.customer_id AND o.source = n.source)
        ORDER BY alias_id, customer_id, source, "timestamp" """)
    con.unregister("_seg_links")
    return int(con.execute("SELECT count(*) FROM identities").fetchone()[0] - before)


def import_segment_file(store: Store, path, tz: str = "UTC") -> ImportReport:
    """A Segment file: JSON Lines, a JSON array, or a batch object ``{"batch": [...]}``."""
    path = Path(path)
    from ..errors import DataError

    if not path.exists():
        raise DataError(f"{path}: no such file")
    return _write(store, parse_file(path, source=str(path)), str(path), "segment")


def import_segment_messages(store: Store, messages: list[dict], name: str = "<messages>") -> ImportReport:
    """Messages already in memory (an HTTP batch, a list of dicts)."""
    return _write(store, parse_messages(messages, source=name), name, "segment")


def import_segment_rows(store: Store, parsed: SegmentRows, name: str = "<http>") -> ImportReport:
    """Messages already parsed: the HTTP server checks each request before it queues it, then
    writes the rows of many requests in one transaction (``web/writer.py``)."""
    return _write(store, parsed, name, "segment")
