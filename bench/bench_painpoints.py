"""Pain points on generated data: recall and precision against truth.json, and speed.

    .venv/bin/python bench/bench_painpoints.py --customers 50000 --seeds 5 --runs 3

For each seed, generates the demo world twice (default frictions, and none), imports it
the way ``make demo`` does, runs :func:`parcours.analysis.painpoints.painpoints`, and scores
the findings with the matching rule of docs/painpoints.md (kind and place). Prints one row
per seed: recall, precision, findings without frictions, run time, events. Then times the
pain points on the first seed's store (median of ``--runs``), beside a baseline: reading
the same columns of ``journey_view`` sorted into pandas, the floor any detector pays.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from _workspace import build, timed  # bench/ is the script's folder, first on sys.path
from parcours.analysis.friction_match import matches, score
from parcours.analysis.painpoints import painpoints


def planted(folder: Path, customers: int, seed: int, frictions):
    """The workspace of one seed and the frictions planted in it (its truth.json)."""
    ws, _ = build(folder, customers, seed=seed, frictions=frictions)
    truth = json.loads((folder / "data" / "truth.json").read_text())["frictions"]
    return ws, truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows, incidents = [], []
    print("| seed | events | recall | precision | findings | findings without frictions | seconds | missed | false |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        timing_store = None
        for seed in range(1, args.seeds + 1):
            ws, truth = planted(tmp / f"f{seed}", args.customers, seed, "default")
            seconds, result = timed(lambda: painpoints(ws.store))
            s = score(truth, [p.to_dict() for p in result.painpoints])
            events = ws.store.scalar("SELECT count(*) FROM journey_events")
            if timing_store is None:
                timing_store = ws
            else:
                ws.close()
            clean, _ = planted(tmp / f"n{seed}", args.customers, seed, None)
            noise = painpoints(clean.store).painpoints
            clean.close()
            false = [f"{p['kind']}@{p['touchpoint'] or p['event'] or p['channel'] or p['segment']}"
                     for p in s["false_findings"]]
            noise_names = [f"{p.kind}@{p.touchpoint or p.event or p.channel or p.segment}" for p in noise]
            rows.append({"seed": seed, "recall": s["recall"], "precision": s["precision"],
                         "noise": len(noise), "seconds": seconds})
            found = [p.to_dict() for p in result.painpoints]
            for f in truth:
                if f["when"] != "always":
                    hit = [f"{p['start']}..{p['end']}" if p["start"] else "always" for p in found if matches(f, p)]
                    incidents.append(f"| {seed} | {f['id']} | {f['when']['from']}..{f['when']['to']} | "
                                     f"{', '.join(hit) or 'missed'} |")
            print(f"| {seed} | {events:,} | {s['recall']:.2f} | {s['precision']:.2f} | {s['findings']} | "
                  f"{len(noise)} {noise_names if noise else ''} | {seconds:.1f} | {', '.join(s['missed'])} | "
                  f"{', '.join(false)} |", flush=True)
        print(f"| mean | | {statistics.mean(r['recall'] for r in rows):.2f} | "
              f"{statistics.mean(r['precision'] for r in rows):.2f} | | "
              f"{statistics.mean(r['noise'] for r in rows):.1f} | "
              f"{statistics.mean(r['seconds'] for r in rows):.1f} | | |")
        print("\n| seed | dated friction | planted | found (weeks) |\n|---|---|---|---|")
        print("\n".join(incidents))
        ws = timing_store
        events = ws.store.scalar("SELECT count(*) FROM journey_events")
        runs = [timed(lambda: painpoints(ws.store))[0] for _ in range(args.runs)]
        base = [timed(lambda: ws.store.sql(
            """SELECT person_id, customer_id, "timestamp", event, channel, touchpoint, stage, stage_index,
               value, properties FROM journey_view ORDER BY person_id, "timestamp", seq""").df())[0]
                for _ in range(args.runs)]
        med, bmed = statistics.median(runs), statistics.median(base)
        print(f"\npainpoints on {events:,} events: median {med:.1f} s of {args.runs} runs; "
              f"baseline (read the sorted journey_view into pandas) {bmed:.1f} s; ratio {med / bmed:.1f}")
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
