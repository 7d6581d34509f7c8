"""Segments on generated data: saving them, and analyses inside a segment scope.

    .venv/bin/python bench/bench_segments.py --people 50000 --runs 5

Generates the demo world (``parcours.synth``), imports it and builds the journeys, then
times: saving a rule segment (``segment = b2c``), a behaviour segment (``did purchase >= 2
within 90d``), an RFM segment (``champions``) and 4 clusters of journeys; entering and
leaving a scope; and the stage funnel, stage KPIs and stage paths inside the b2c scope. The
baseline beside each analysis is the same analysis on the whole store: the ratio says what
the scope costs (or saves) compared with reading everyone. Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from _workspace import build, timed  # bench/ is the script's folder, first on sys.path
from parcours.analysis import segments as sg
from parcours.analysis.funnel import funnel
from parcours.analysis.kpis import stage_kpis
from parcours.analysis.paths import paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        ws, _ = build(tmp, args.people, kinds=("customers", "events", "feedback"))
        store, model = ws.store, ws.model
        events = store.scalar("SELECT count(*) FROM journey_events")
        saves = {
            "save_rule": lambda: sg.save_segment(store, "b2c", "segment = b2c", replace=True),
            "save_behaviour": lambda: sg.save_segment(store, "buyers", "did purchase >= 2 within 90d", replace=True),
            "save_rfm": lambda: sg.save_segment(store, "champions", {"kind": "rfm", "segment": "champions"},
                                                replace=True),
            "save_clusters_k4": lambda: sg.save_clusters(store, "cl", 4, replace=True),
        }
        analyses = {
            "funnel_stages": lambda: funnel(store, stages=list(model.path_order), window=model.window),
            "stage_kpis": lambda: stage_kpis(store, model),
            "paths_stage": lambda: paths(store, by="stage"),
        }
        times: dict[str, list[float]] = {k: [] for k in [*saves, "scope_enter_exit"]}
        for name in analyses:
            times[f"{name}_whole"] = []
            times[f"{name}_scoped"] = []
        for _ in range(args.runs):
            for name, fn in saves.items():
                times[name].append(timed(fn)[0])

            def enter_exit():
                with sg.segment_scope(store, "b2c"):
                    pass

            times["scope_enter_exit"].append(timed(enter_exit)[0])
            for name, fn in analyses.items():
                times[f"{name}_whole"].append(timed(fn)[0])
                with sg.segment_scope(store, "b2c"):
                    times[f"{name}_scoped"].append(timed(fn)[0])
        medians = {k: statistics.median(v) for k, v in times.items()}
        members = {s.name: s.members for s in sg.list_segments(store).segments}
        report = {
            "people": args.people, "journey_events": events, "runs": args.runs,
            "persons": store.scalar("SELECT count(*) FROM persons"), "members": members,
            "median_seconds": {k: round(v, 4) for k, v in medians.items()},
            "scoped_over_whole": {name: round(medians[f"{name}_scoped"] / medians[f"{name}_whole"], 3)
                                  for name in analyses},
        }
        ws.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
