"""Import speed: events per second from Parquet and CSV into a fresh store.

    .venv/bin/python bench/bench_import.py --events 10000000 --runs 3

Writes the source files once (events with ids, realistic cardinalities), then imports each
file into a new store ``--runs`` times and prints the median. As a baseline beside it, the
same file loaded by a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_...`` (no validation,
no dedup): the ratio says what validation, dedup and the transaction cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from parcours.data.importer import import_file
from parcours.data.store import Store


def make_sources(out: Path, n: int) -> dict[str, Path]:
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE src AS SELECT
            'e' || i AS event_id,
            CASE WHEN i % 5 = 0 THEN NULL ELSE 'c' || (hash(i // 40) % {max(n // 40, 1)}) END AS customer_id,
            'a' || (hash(i // 20) % {max(n // 20, 1)}) AS anonymous_id,
            TIMESTAMP '2025-01-01' + to_seconds((hash(i) % 31536000)::BIGINT) AS timestamp,
            (['page_view','product_view','add_to_cart','checkout_start','purchase','email_open','search',
              'ad_click','support_contact','review_posted'])[1 + (hash(i * 7) % 10)::BIGINT] AS event,
            (['web','app','email','store','search','social','phone','chat'])[1 + (hash(i * 3) % 8)::BIGINT] AS channel,
            'tp' || (hash(i * 11) % 60) AS touchpoint,
            CASE WHEN hash(i * 13) % 10 = 0 THEN round((hash(i) % 20000) / 100.0, 2) END AS value,
            'EUR' AS currency,
            '{{"device":"mobile"}}' AS properties
        FROM range({n}) t(i)""")
    paths = {"parquet": out / "events.parquet", "csv": out / "events.csv"}
    con.execute(f"COPY src TO '{paths['parquet']}' (FORMAT parquet, ROW_GROUP_SIZE 122880)")
    con.execute(f"COPY src TO '{paths['csv']}' (FORMAT csv, HEADER)")
    con.close()
    return paths


def time_parcours(path: Path, work: Path) -> tuple[float, dict]:
    db = work / f"p_{time.monotonic_ns()}.duckdb"
    store = Store(db)
    t0 = time.perf_counter()
    report = import_file(store, path)
    elapsed = time.perf_counter() - t0
    store.close()
    db.unlink()
    return elapsed, report.to_dict()


def time_baseline(path: Path, fmt: str, work: Path) -> float:
    db = work / f"b_{time.monotonic_ns()}.duckdb"
    con = duckdb.connect(str(db))
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}('{path}')")
    elapsed = time.perf_counter() - t0
    con.close()
    db.unlink()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        sources = make_sources(work, args.events)
        for fmt, path in sources.items():
            ours = [time_parcours(path, work) for _ in range(args.runs)]
            base = [time_baseline(path, fmt, work) for _ in range(args.runs)]
            assert all(r[1]["imported"] == args.events for r in ours), ours[0][1]
            med, bmed = statistics.median(t for t, _ in ours), statistics.median(base)
            rows.append({"format": fmt, "events": args.events, "median_s": round(med, 2),
                         "events_per_s": round(args.events / med), "baseline_ctas_s": round(bmed, 2),
                         "ratio_vs_baseline": round(med / bmed, 2), "runs": args.runs})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'format':8} {'events':>11} {'median s':>9} {'events/s':>11} {'bare CTAS s':>12} {'ratio':>6}")
        for r in rows:
            print(f"{r['format']:8} {r['events']:>11,} {r['median_s']:>9} {r['events_per_s']:>11,} "
                  f"{r['baseline_ctas_s']:>12} {r['ratio_vs_baseline']:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
