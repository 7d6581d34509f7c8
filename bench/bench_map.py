"""Journey map and report build time on generated data, beside the analyses they call.

    .venv/bin/python bench/bench_map.py --people 45000 --runs 3            # about 1M events
    .venv/bin/python bench/bench_map.py --people 45000 --runs 3 --report   # the report too

Generates the demo world (``parcours.synth``), imports customers, events, feedback and
spend, assigns stages, then times on the same store, ``--runs`` times: the whole map
(``journey_map``), its HTML page, each analysis the map calls (stage KPIs, paths by stage,
emotion by stage, pain points) and, as a baseline, one bare DuckDB scan of the journey view
(count per stage and event): the least any map must read. Medians, and the map's ratio to
the baseline. With ``--report``, the report (``build_report`` + HTML) and its sections.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from _workspace import build, timed  # bench/ is the script's folder, first on sys.path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=45_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--report", action="store_true", help="Also time the report.")
    args = ap.parse_args()

    from parcours.analysis.feedback import emotion_by
    from parcours.analysis.kpis import stage_kpis
    from parcours.analysis.paths import paths
    from parcours.render.map_data import journey_map, pain_points
    from parcours.render.map_html import map_page

    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        t_build, (ws, _) = timed(lambda: build(tmp, args.people))
        store, model = ws.store, ws.model
        events = store.scalar("SELECT count(*) FROM journey_events")
        steps = {
            "baseline_scan": lambda: store.fetch("SELECT stage, event, count(*) FROM journey_view GROUP BY ALL"),
            "stage_kpis": lambda: stage_kpis(store, model),
            "paths_by_stage": lambda: paths(store, by="stage", top=2**31 - 1),
            "emotion_by_stage": lambda: emotion_by(store, by="stage"),
            "pain_points": lambda: pain_points(store),
            "map": lambda: journey_map(store, model, lang="fr"),
        }
        times: dict[str, list[float]] = {k: [] for k in (*steps, "map_html")}
        report_times: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for name, fn in steps.items():
                seconds, out = timed(fn)
                times[name].append(seconds)
                if name == "map":
                    jm = out
            times["map_html"].append(timed(lambda: map_page(jm))[0])
            if args.report:
                from parcours.render.report import build_report, report_html

                seconds, rep = timed(lambda: build_report(store, model, lang="fr"))
                report_times.setdefault("report", []).append(seconds + timed(lambda: report_html(rep))[0])
                for k, v in rep.seconds.items():
                    report_times.setdefault(f"report.{k}", []).append(v)
        med = {k: round(statistics.median(v), 3) for k, v in times.items()}
        out = {
            "people": args.people, "events": events, "runs": args.runs, "build_seconds": round(t_build, 1),
            "median_seconds": med,
            "map_total_seconds": round(med["map"] + med["map_html"], 3),
            "map_vs_baseline_scan": round(med["map"] / med["baseline_scan"], 1) if med["baseline_scan"] else None,
        }
        if report_times:
            out["report_median_seconds"] = {k: round(statistics.median(v), 3) for k, v in report_times.items()}
        ws.close()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
