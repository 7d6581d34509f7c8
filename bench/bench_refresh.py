"""Identity stitching and stage assignment on generated data: full, incremental, no-op.

    .venv/bin/python bench/bench_refresh.py --people 470000 --runs 3     # about 10M events

Generates the demo world (``parcours.synth``), imports it, then times on the same store:
stitching, a full refresh (``refresh(full=True)``), an incremental refresh after 1,000 new
events, and a refresh with nothing new. Beside them, as a baseline, a bare DuckDB
``CREATE TABLE ... ORDER BY customer, time`` of the events: the cost of just sorting them.
Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
from pathlib import Path

import pandas as pd

from _workspace import build, timed  # bench/ is the script's folder, first on sys.path
from parcours.data.identity import stitch
from parcours.data.importer import import_frame
from parcours.journey.assign import refresh


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=470_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        ws, _ = build(tmp, args.people, kinds=("customers", "events"), refresh=False)
        model = ws.model
        times: dict[str, list[float]] = {k: [] for k in ("stitch", "full", "incremental", "noop", "baseline_sort")}
        for run in range(args.runs):
            times["stitch"].append(timed(lambda: stitch(ws.store))[0])
            times["full"].append(timed(lambda: refresh(ws.store, model, full=True))[0])
            new = pd.DataFrame({
                "event_id": [f"bench-{run}-{i}" for i in range(1000)],
                "customer_id": [f"C{i * 37 % 5000:08d}" for i in range(1000)],
                "timestamp": [dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)] * 1000,
                "event": ["purchase"] * 1000,
            })
            import_frame(ws.store, new)
            times["incremental"].append(timed(lambda: refresh(ws.store, model))[0])
            times["noop"].append(timed(lambda: refresh(ws.store, model))[0])
            t, _ = timed(lambda: ws.store.con.execute(
                "CREATE OR REPLACE TEMP TABLE _sorted AS SELECT * FROM events "
                "ORDER BY coalesce(customer_id, anonymous_id), timestamp"))
            times["baseline_sort"].append(t)
        events = ws.store.scalar("SELECT count(*) FROM events")
        persons = ws.store.scalar("SELECT count(*) FROM persons")
        ws.close()
    med = {k: round(statistics.median(v), 2) for k, v in times.items()}
    print(f"events {events:,}  persons {persons:,}  runs {args.runs}")
    for k, v in med.items():
        print(f"{k:14} {v:>8} s")
    print(f"full refresh / bare sort: {med['full'] / med['baseline_sort']:.1f}x")
    print(json.dumps({"events": events, "persons": persons, "median_s": med}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
