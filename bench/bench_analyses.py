"""Funnel, transition matrix and stage KPIs on generated data, beside straightforward SQL.

    .venv/bin/python bench/bench_analyses.py --people 470000 4700000     # 10M and 100M events

For each size, on the same store (built once under bench/out/, see ``_workspace.py``):

- a 5-step funnel (product_view, add_to_cart, checkout_start, payment, purchase; 14 days),
  beside a self-join funnel in DuckDB SQL (each step: the earliest matching event at or
  after the previous one and within the window of the first);
- the transition matrix (``paths.transitions``: pairs and distinct customers), beside a
  ``lead() OVER (PARTITION BY person ORDER BY ts, seq)`` count in DuckDB SQL;
- the stage KPIs (``stage_kpis``), beside the same function over ``journey_view``
  (``engine="portable"``), the join every analysis used to read;
- the whole ``paths()`` result (transitions, variants, step matrix, flows, loops), alone.

Each measurement runs in its own process (one warm-up, then the median of ``--runs``), so
its peak RSS (``VmHWM``, DuckDB included) is its own. Both sides' numbers are compared;
a difference is printed and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _workspace import peak_gib  # bench/ is the script's folder, first on sys.path

HERE = Path(__file__).parent
STEPS = ["product_view", "add_to_cart", "checkout_start", "payment", "purchase"]
WINDOW_US = 14 * 86400 * 1_000_000


# -- the straightforward SQL --------------------------------------------------------------
def sql_funnel(store) -> list[int]:
    """Customers reaching each step: a self-join per step, earliest match, window from step 1."""
    codes = dict(store.fetch("SELECT name, code FROM dim_event"))
    c = [codes[s] for s in STEPS]
    parts = [f"f1 AS (SELECT DISTINCT person_key AS p, ts AS t1, ts AS t FROM journey_events WHERE event_code = {c[0]})"]
    for k in range(2, len(c) + 1):
        parts.append(f"""f{k} AS (SELECT f.p, f.t1, min(e.ts) AS t FROM f{k - 1} f JOIN journey_events e
            ON e.person_key = f.p AND e.event_code = {c[k - 1]} AND e.ts >= f.t AND e.ts <= f.t1 + {WINDOW_US}
            GROUP BY f.p, f.t1)""")
    counts = ", ".join(f"(SELECT count(DISTINCT p) FROM f{k})" for k in range(1, len(c) + 1))
    return list(store.fetch(f"WITH {', '.join(parts)} SELECT {counts}")[0])


def sql_transitions(store) -> list[list]:
    rows = store.fetch("""
        SELECT de.name, dt.name, n, c FROM (
            SELECT f, t, count(*) AS n, count(DISTINCT person_key) AS c FROM (
                SELECT person_key, event_code AS f,
                       lead(event_code) OVER (PARTITION BY person_key ORDER BY ts, seq) AS t
                FROM journey_events)
            WHERE t IS NOT NULL GROUP BY f, t) x
        JOIN dim_event de ON de.code = x.f JOIN dim_event dt ON dt.code = x.t""")
    return sorted([list(r) for r in rows])


# -- one measurement (run in a child process) ---------------------------------------------
def question(name: str):
    """(function of the workspace giving comparable numbers) for a measurement name."""
    from parcours.analysis.funnel import funnel
    from parcours.analysis.kpis import stage_kpis
    from parcours.analysis.paths import paths, transitions

    return {
        "funnel": lambda ws: [s.count for s in funnel(ws.store, STEPS, window="14d").steps],
        "funnel_sql": lambda ws: sql_funnel(ws.store),
        "transitions": lambda ws: sorted([t["from"], t["to"], t["count"], t["customers"]]
                                         for t in transitions(ws.store).transitions),
        "transitions_sql": lambda ws: sql_transitions(ws.store),
        "kpis": lambda ws: stage_kpis(ws.store, ws.model).to_dict(),
        "kpis_portable": lambda ws: stage_kpis(ws.store, ws.model, engine="portable").to_dict(),
        "paths": lambda ws: len(paths(ws.store).variants),
    }[name]


def measure(people: int, name: str, runs: int) -> dict:
    """``runs`` = 0: one run and no warm-up (for the slowest baselines at 100M)."""
    from parcours.workspace import Workspace

    ws = Workspace.open(HERE / "out" / f"ws-{people}", read_only=True)
    fn = question(name)
    if runs:
        out = fn(ws)  # warm-up
    runs = max(runs, 1)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn(ws)
        times.append(time.perf_counter() - t0)
    events = ws.store.scalar("SELECT count(*) FROM journey_events")
    ws.close()
    rss = peak_gib()
    return {"median_s": statistics.median(times), "times": times, "peak_gib": rss, "events": events,
            "result": out}


def child(people: int, name: str, runs: int) -> dict:
    cmd = [sys.executable, __file__, "--measure", name, "--people", str(people), "--runs", str(runs)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def events_of(people: int) -> int:
    import duckdb

    con = duckdb.connect(str(HERE / "out" / f"ws-{people}" / "parcours.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM journey_events").fetchone()[0]
    finally:
        con.close()


# -- the table ----------------------------------------------------------------------------
PAIRS = [("5-step funnel", "funnel", "funnel_sql", "self-join SQL"),
         ("transition matrix", "transitions", "transitions_sql", "lead() SQL"),
         ("stage KPIs", "kpis", "kpis_portable", "over journey_view"),
         ("paths (all parts)", "paths", None, "")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, nargs="+", default=[470_000, 4_700_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="measurement names (funnel, transitions_sql, ...)")
    ap.add_argument("--once-above", type=int, default=50_000_000, metavar="EVENTS",
                    help="above this many events, KPIs and paths run once without warm-up")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.people[0], args.measure, args.runs), default=str))
        return 0

    sys.path.insert(0, str(HERE))
    from _workspace import workspace

    lines = ["| events | question | parcours (s) | baseline | baseline (s) | ratio | parcours peak (GiB) "
             "| baseline peak (GiB) | same numbers |", "|" + "---|" * 9]
    failed = False
    for people in args.people:
        workspace(people).close()
        for label, ours, theirs, how in PAIRS:
            names = [n for n in (ours, theirs) if n and (not args.only or n in args.only)]
            if not names:
                continue
            once = events_of(people) > args.once_above and ours in ("kpis", "paths")
            got = {n: child(people, n, 0 if once else args.runs) for n in names}
            for n, r in got.items():
                print(f"{people} {n}: " + json.dumps({k: v for k, v in r.items() if k != "result"}), flush=True)
            a, b = got.get(ours, {}), got.get(theirs, {}) if theirs else {}
            same = "" if "result" not in a or "result" not in b else ("yes" if a["result"] == b["result"] else "NO")
            failed |= same == "NO"
            events = next((r["events"] for r in (a, b) if "events" in r), None)
            label += " (1 run)" if once else ""
            fmt = (lambda r, k, f: f.format(r[k]) if k in r else r.get("error", "—"))
            ratio = f"{b['median_s'] / a['median_s']:.1f}x" if "median_s" in a and "median_s" in b else "—"
            lines.append(f"| {events / 1e6:.1f}M | {label} | {fmt(a, 'median_s', '{:.2f}')} | {how} | "
                         f"{fmt(b, 'median_s', '{:.2f}') if theirs else '—'} | {ratio} | "
                         f"{fmt(a, 'peak_gib', '{:.2f}')} | {fmt(b, 'peak_gib', '{:.2f}') if theirs else '—'} "
                         f"| {same or '—'} |" if events else f"| {people} people | {label} | failed |")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
