"""Generator speed: events per second and peak memory of ``parcours.synth.generate``.

    .venv/bin/python bench/bench_generate.py                      # 200k people, 3 runs, parquet
    .venv/bin/python bench/bench_generate.py --customers 1000000 --runs 1 --workers 2
    .venv/bin/python bench/bench_generate.py --large 2000000      # also one larger run

Each run is a fresh Python process (so peak RSS is that run's own, workers included) writing
into a temporary directory; the median of the runs is printed, then a JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from parcours.synth import generate
args = json.loads(sys.argv[1])
r = generate(args["out"], customers=args["customers"], seed=args["seed"], format=args["format"],
             workers=args["workers"])
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"events": r.events, "seconds": r.seconds, "customers": r.customers,
                  "peak_rss_mb": round((self_kb + child_kb) / 1024, 1), "main_rss_mb": round(self_kb / 1024, 1)}))
"""


def run_once(customers: int, seed: int, fmt: str, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = json.dumps({"out": tmp, "customers": customers, "seed": seed, "format": fmt, "workers": workers})
        out = subprocess.run([sys.executable, "-c", CHILD, args], check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def bench(customers: int, runs: int, fmt: str, workers: int) -> dict:
    results = [run_once(customers, seed, fmt, workers) for seed in range(runs)]
    for r in results:
        print(f"  {customers:>9,} people  {r['events']:>11,} events  {r['seconds']:7.2f} s  "
              f"{r['events'] / r['seconds']:>11,.0f} events/s  peak RSS {r['peak_rss_mb']:,.0f} MB", file=sys.stderr)
    secs = statistics.median(r["seconds"] for r in results)
    events = statistics.median(r["events"] for r in results)
    return {"customers": customers, "format": fmt, "workers": workers, "runs": runs,
            "events": int(events), "seconds": round(secs, 2),
            "events_per_second": round(statistics.median(r["events"] / r["seconds"] for r in results)),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv", "jsonl"])
    ap.add_argument("--workers", type=int, default=1, help="processes simulating chunks (1: in-process; 0: one per CPU, at most 4)")
    ap.add_argument("--large", type=int, default=0, help="also one run with this many people")
    a = ap.parse_args()
    res = bench(a.customers, a.runs, a.format, a.workers)
    print(f"median of {a.runs}: {res['events_per_second']:,} events/s, {res['seconds']} s for "
          f"{res['events']:,} events, peak RSS {res['peak_rss_mb']:,.0f} MB")
    out = {"median": res}
    if a.large:
        big = bench(a.large, 1, a.format, a.workers)
        print(f"large run: {big['events_per_second']:,} events/s, {big['seconds']} s for {big['events']:,} events, "
              f"peak RSS {big['peak_rss_mb']:,.0f} MB")
        out["large"] = big
    print(json.dumps(out))


if __name__ == "__main__":
    main()
