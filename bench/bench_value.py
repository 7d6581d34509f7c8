"""Attribution and CLV on generated data, beside bare DuckDB scans of the same rows.

    .venv/bin/python bench/bench_value.py --people 470000 --runs 3     # about 10M events
    .venv/bin/python bench/bench_value.py --people 47000 --runs 3      # about 1M events

Builds (once; kept under bench/out/, which git ignores) a workspace from the demo world
(``parcours.synth``): generated, imported, stitched and staged. ``--copy-from DIR`` takes
an already built workspace's store instead (e.g. another benchmark's ``bench/out/ws-N``).
Then times, medians of ``--runs`` runs:

* attribution, Markov (orders 1 and 2) and linear, conversion ``purchase`` by channel, with
  the numpy engine over journey_events codes (the default) and the SQL one over journey_view;
* CLV: the per-customer summary in DuckDB (from journey_events codes, the default, and from
  journey_view), the BG/NBD and Gamma-Gamma fits, and the whole ``clv()`` (summary, fits and
  per-customer predictions);
* baselines: for attribution, a bare ``lag()`` over (person, time) of the view's rows with a
  channel, grouped by pair (what a first-order transition count costs at least); for CLV,
  a bare group-by of the purchases per person.

``--memory-limit`` caps DuckDB (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from _workspace import fill, timed  # bench/ is the script's folder, first on sys.path

OUT = Path(__file__).parent / "out"


def build(people: int, copy_from: Path | None) -> Path:
    """bench/out/value-<people>: a workspace ready for the analyses (built or copied once)."""
    path = OUT / f"value-{people}"
    if (path / "READY").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if copy_from is not None:
        shutil.copytree(copy_from, path, ignore=shutil.ignore_patterns("READY", "*.wal"))
    else:
        from parcours.synth import generate

        data = OUT / f"value-data-{people}"
        shutil.rmtree(data, ignore_errors=True)
        gen = generate(data, customers=people, seed=1)
        ws = fill(path, gen.paths, ("customers", "events", "spend"))
        ws.store.con.execute("CHECKPOINT")
        ws.close()
        shutil.rmtree(data, ignore_errors=True)
    (path / "READY").write_text("ok")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=470_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--copy-from", type=Path, default=None)
    ap.add_argument("--memory-limit", default="6GB")
    args = ap.parse_args()

    from parcours.analysis.attribution import attribution
    from parcours.analysis.clv import clv, customer_summary, fit_bgnbd, fit_gamma_gamma
    from parcours.data.store import Store

    t_build, path = timed(lambda: build(args.people, args.copy_from))
    print(f"workspace {path} ready in {t_build:.0f} s", flush=True)
    store = Store(path / "parcours.duckdb", read_only=True)
    store.con.execute(f"SET memory_limit = '{args.memory_limit}'")
    events = store.scalar("SELECT count(*) FROM journey_events")
    persons = store.scalar("SELECT count(*) FROM persons")
    purchases = store.scalar("SELECT count(*) FROM journey_view WHERE event = 'purchase'")

    summary, _ = customer_summary(store, "purchase", unit="week")
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    jobs = {
        "attribution_markov": lambda: attribution(store, "purchase", "channel", "markov"),
        "attribution_markov_order2": lambda: attribution(store, "purchase", "channel", "markov", order=2),
        "attribution_linear": lambda: attribution(store, "purchase", "channel", "linear"),
        "attribution_markov_sql": lambda: attribution(store, "purchase", "channel", "markov", engine="portable"),
        "attribution_linear_sql": lambda: attribution(store, "purchase", "channel", "linear", engine="portable"),
        "baseline_transitions": lambda: store.fetch(
            """SELECT prev, channel, count(*) FROM (
                   SELECT channel, lag(channel) OVER (PARTITION BY person_id ORDER BY "timestamp", seq) AS prev
                   FROM journey_view WHERE channel IS NOT NULL) GROUP BY ALL"""),
        "clv_summary": lambda: customer_summary(store, "purchase", unit="week"),
        "clv_summary_sql": lambda: customer_summary(store, "purchase", unit="week", engine="portable"),
        "clv_fit_bgnbd": lambda: fit_bgnbd(x, t_x, T),
        "clv_fit_gamma_gamma": lambda: fit_gamma_gamma(x, summary["mean_value"].to_numpy(float)),
        "clv_total": lambda: clv(store, "purchase", unit="week", horizon=52),
        "baseline_purchases_per_person": lambda: store.fetch(
            """SELECT count(*) FROM (SELECT person_id, count(*), sum(value) FROM journey_view
                   WHERE event = 'purchase' GROUP BY person_id)"""),
    }
    times: dict[str, list[float]] = {k: [] for k in jobs}
    last = {}
    for run in range(args.runs):
        for name, job in jobs.items():
            t, last[name] = timed(job)
            times[name].append(t)
            print(f"run {run + 1} {name:30} {t:8.2f} s", flush=True)
    store.close()

    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    markov = last["attribution_markov"]
    fitted = last["clv_total"]
    print(f"events {events:,}  persons {persons:,}  purchases {purchases:,}  customers {len(summary):,}  "
          f"runs {args.runs}")
    for k, v in med.items():
        print(f"{k:30} {v:>9} s")
    print(f"markov / bare transitions:          {med['attribution_markov'] / med['baseline_transitions']:.1f}x")
    print(f"linear / bare transitions:          {med['attribution_linear'] / med['baseline_transitions']:.1f}x")
    print(f"markov sql / bare transitions:      {med['attribution_markov_sql'] / med['baseline_transitions']:.1f}x")
    print(f"clv total / bare purchase group-by: {med['clv_total'] / med['baseline_purchases_per_person']:.1f}x")
    print(json.dumps({
        "events": events, "persons": persons, "purchases": purchases, "customers": len(summary),
        "median_s": med, "markov_channels": markov.channels[:3],
        "bgnbd": fitted.params, "gamma_gamma": fitted.gamma_gamma,
    }, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
