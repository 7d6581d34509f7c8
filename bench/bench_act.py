"""Scenario evaluation throughput: entries and due steps per second on N customers.

    .venv/bin/python bench/bench_act.py --customers 1000000 --runs 3

Builds a store with N customers (62% consent to e-mail, half French, half English) and
their carts (one each, over a day) and purchases (30% of them, up to two days later),
written straight into the events table: this measures the engine, not the import. Each run
copies that store and times ``Engine.run`` with the built-in abandoned-cart and
loyalty-points scenarios, two days later, delivery off (messages stay in the outbox):
every customer enters, walks the 1 h and 24 h reminders or meets the goal, and what is
done is written back as events through the importer. A second run at the same time (nothing
due) is timed too. Beside them, as a baseline, a bare DuckDB scan of the same events
grouping carts and purchases per customer: the least any evaluation must read.
Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from parcours.act.engine import Engine
from parcours.act.scenario import parse_scenario, template_text
from parcours.act.settings import Settings
from parcours.data.store import Store

T0 = dt.datetime(2024, 3, 4)


def build(path: Path, n: int) -> None:
    with Store(path) as store, store.transaction() as con:
        con.execute(f"""INSERT INTO customers SELECT 'c' || lpad(i::VARCHAR, 8, '0'), NULL, NULL,
            json_object('email', 'c' || i || '@example.org', 'first_name', 'N' || i,
                        'consent_email', hash(i, 'consent') % 100 < 62, 'lang', CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'en' END)
            FROM range({n}) t(i)""")
        con.execute(f"""INSERT INTO events
            SELECT 'cart-' || i, 'c' || lpad(i::VARCHAR, 8, '0'), NULL, NULL,
                   TIMESTAMP '{T0}' + to_seconds((hash(i, 'cart') % 86400)::BIGINT), 'add_to_cart', 'web', 'cart',
                   NULL, NULL, json_object('product', 'p' || (i % 500)), i, 0
            FROM range({n}) t(i)""")
        con.execute(f"""INSERT INTO events
            SELECT 'buy-' || i, 'c' || lpad(i::VARCHAR, 8, '0'), NULL, NULL,
                   TIMESTAMP '{T0}' + to_seconds((hash(i, 'cart') % 86400 + hash(i, 'delay') % 172800)::BIGINT),
                   'purchase', 'web', 'checkout', 20 + hash(i, 'value') % 300, 'EUR', NULL, {n} + i, 0
            FROM range({n}) t(i) WHERE hash(i, 'buys') % 100 < 30""")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20_000, help="customers per transaction (act.yaml batch_size)")
    args = ap.parse_args()
    scenarios = [parse_scenario(template_text(n)) for n in ("abandoned-cart", "loyalty-points")]
    settings = Settings(batch_size=args.batch)
    now = T0 + dt.timedelta(days=3)
    times: dict[str, list[float]] = {"run": [], "noop": [], "baseline_scan": []}
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        build(tmp / "base.duckdb", args.customers)
        print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)
        for run in range(args.runs):
            path = tmp / f"run{run}.duckdb"
            shutil.copy(tmp / "base.duckdb", path)
            with Store(path) as store:
                t0 = time.perf_counter()
                report = Engine(store, scenarios, settings).run(now, deliver_messages=False)
                times["run"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                Engine(store, scenarios, settings).run(now, deliver_messages=False)
                times["noop"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                store.fetch("""SELECT count(*), sum(carts), sum(buys) FROM (
                    SELECT customer_id, count(*) FILTER (event = 'add_to_cart') AS carts,
                           count(*) FILTER (event = 'purchase') AS buys, min("timestamp") AS first
                    FROM events GROUP BY customer_id)""")
                times["baseline_scan"].append(time.perf_counter() - t0)
                entries = sum(v.get("entered", 0) for v in report.scenarios.values())
                steps = sum(v.get("steps", 0) for v in report.scenarios.values())
                messages = sum(v.get("messages", 0) for v in report.scenarios.values())
                events = store.scalar("SELECT count(*) FROM events")
            path.unlink()
            print(f"run {run}: {times['run'][-1]:.1f} s, noop {times['noop'][-1]:.1f} s, "
                  f"scan {times['baseline_scan'][-1]:.2f} s", flush=True)
    med = {k: round(statistics.median(v), 2) for k, v in times.items()}
    work = entries + steps
    print(f"customers {args.customers:,}  entries {entries:,}  steps {steps:,}  messages {messages:,}  "
          f"events after {events:,}  runs {args.runs}  batch {args.batch}")
    for k, v in med.items():
        print(f"{k:14} {v:>8} s")
    print(f"throughput: {work / med['run']:,.0f} entries+steps/s, {args.customers / med['run']:,.0f} customers/s")
    print(f"run / bare scan: {med['run'] / med['baseline_scan']:.0f}x")
    print(json.dumps({"customers": args.customers, "entries": entries, "steps": steps, "messages": messages,
                      "median_s": med, "per_s": round(work / med["run"])}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
