"""Speed of the feedback analysis on generated data: overall, breakdowns, trends, emotion.

    .venv/bin/python bench/bench_feedback.py --customers 20000 --runs 5

Generates the demo world (``parcours.synth``), imports customers, events and feedback into a
temporary workspace, stitches and refreshes it, then times each call ``--runs`` times (text
analysis off, so the SQL is what is measured; bench_sentiment.py times the text model) and
prints medians. Beside them, as a baseline, a bare DuckDB ``GROUP BY kind, score`` over the
feedback table: the cost of reading the answers once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _workspace import build, timed  # bench/ is the script's folder, first on sys.path
from parcours.analysis.feedback import emotion_by, feedback


def median_time(fn, runs: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = build(Path(tmp), args.customers, seed=0, kinds=("customers", "events", "feedback"))
        store = ws.store
        answers = store.scalar("SELECT count(*) FROM feedback")
        events = store.scalar("SELECT count(*) FROM journey_events")
        base = median_time(lambda: store.fetch("SELECT kind, score, count(*) FROM feedback GROUP BY ALL"), args.runs)
        cases = {
            "overall": lambda: feedback(store, text_scores=None),
            "by channel": lambda: feedback(store, by="channel", text_scores=None),
            "by touchpoint, per month": lambda: feedback(store, by="touchpoint", period="month", text_scores=None),
            "by segment (attribute)": lambda: feedback(store, by="segment", text_scores=None),
            "by stage": lambda: feedback(store, by="stage", text_scores=None),
            "by stage, per week": lambda: feedback(store, by="stage", period="week", text_scores=None),
            "emotion_by stage": lambda: emotion_by(store, by="stage", text_scores=None),
        }
        print(f"{args.customers} customers: {events} events, {answers} feedback rows; medians of {args.runs} runs")
        print(f"  baseline GROUP BY kind, score: {base * 1000:.1f} ms")
        for name, fn in cases.items():
            t = median_time(fn, args.runs)
            print(f"  {name:28} {t * 1000:8.1f} ms  (ratio {t / base:.1f})")
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
