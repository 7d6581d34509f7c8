"""Accuracy of the verbatim sentiment model and theme lexicon on the labelled set.

    .venv/bin/python bench/bench_sentiment.py            # both halves
    .venv/bin/python bench/bench_sentiment.py --errors   # and the misclassified sentences of the tune half

``tests/data/verbatims_labelled.csv`` (written by hand, not by the generator) has a ``split``
column: the ``tune`` half was looked at while adjusting the domain lexicon, the ``holdout``
half was not, and the ``fresh`` batch (longer, multi-sentence reviews) was written after the
model was frozen; all are reported (``held-out`` = holdout + fresh) so over-fitting shows. Beside the model, as a baseline, the
same VADER analysers without the domain lexicon, phrases or contrast handling. Also prints the
median time to score the whole set (several runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from parcours.predict.evaluate import load_labelled, sentiment_report, theme_report
from parcours.predict.sentiment import SentimentModel, _analyzers, _raw_score
from parcours.predict.themes import themes_of

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "verbatims_labelled.csv"


def baseline_label(row: dict) -> str:
    """Plain VADER (English or French package) on the raw text, no domain lexicon."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as English
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as French
    global _PLAIN
    try:
        plain = _PLAIN
    except NameError:
        plain = _PLAIN = {"en": English(), "fr": French()}
    c = plain[row["language"]].polarity_scores(row["text"])["compound"]
    return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"


def generated(customers: int, runs: int) -> None:
    """feedback() on the generator's data: without text analysis (baseline), with the model on a
    cold cache, and on a warm one (a second call in the same process)."""
    import tempfile

    from parcours.analysis.feedback import feedback
    from parcours.synth import generate
    from parcours.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "data", customers=customers, seed=0, locale="fr", format="parquet")
        ws = Workspace.init(Path(tmp) / "ws")
        ws.import_feedback(Path(tmp) / "data" / "feedback.parquet")
        n, texts = ws.store.fetch("SELECT count(*), count(text) FROM feedback")[0]
        base, cold, warm = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            feedback(ws.store, text_scores=None)
            base.append(time.perf_counter() - t0)
            _raw_score.cache_clear()
            t0 = time.perf_counter()
            res = feedback(ws.store)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            feedback(ws.store)
            warm.append(time.perf_counter() - t0)
        ws.close()
    b, c, w = (statistics.median(x) for x in (base, cold, warm))
    print(f"\nfeedback() on generated data ({customers} customers, {n} answers, {texts} texts), median of {runs}:")
    print(f"  without text analysis {b * 1000:.0f} ms; with the model: cold cache {c * 1000:.0f} ms "
          f"(ratio {c / b:.1f}), warm {w * 1000:.0f} ms (ratio {w / b:.1f})")
    v = res.verbatims
    print(f"  labels: negative {v['negative']}, neutral {v['neutral']}, positive {v['positive']}; themes: "
          + ", ".join(f"{t['theme']} {t['share']:.0%} ({t['sentiment']:+.2f})" for t in v["themes"]))


def fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", action="store_true", help="List the tune half's misclassified sentences.")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--customers", type=int, default=0,
                    help="Also time feedback() on generated data of this many customers.")
    args = ap.parse_args()
    rows = load_labelled(DATA)
    model = SentimentModel()
    _analyzers()
    times, predicted = [], None
    for _ in range(args.runs):
        _raw_score.cache_clear()
        t0 = time.perf_counter()
        predicted = [model.score(r["text"], r["language"]).label for r in rows]
        times.append(time.perf_counter() - t0)
    t_base = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        base = [baseline_label(r) for r in rows]
        t_base.append(time.perf_counter() - t0)
    detected = [model.score(r["text"]).language for r in rows]
    themes = [themes_of(r["text"]) for r in rows]
    print(f"labelled set: {len(rows)} sentences ({Counter(r['language'] for r in rows)})")
    for split in ("tune", "holdout", "fresh", "held-out", None):
        idx = [i for i, r in enumerate(rows) if split is None or r["split"] == split
               or (split == "held-out" and r["split"] != "tune")]
        sub = [rows[i] for i in idx]
        name = split or "all"
        print(f"\n[{name}] sentiment  model:    {fmt(sentiment_report(sub, [predicted[i] for i in idx]))}")
        print(f"[{name}] sentiment  baseline: {fmt(sentiment_report(sub, [base[i] for i in idx]))}")
        tr = theme_report(sub, [themes[i] for i in idx])
        print(f"[{name}] themes micro: {fmt(tr['micro'])}")
        print(f"[{name}] themes: " + ", ".join(
            f"{k} P={v['precision'] if v['precision'] is None else round(v['precision'], 2)}"
            f" R={v['recall'] if v['recall'] is None else round(v['recall'], 2)}" for k, v in tr.items() if k != "micro"))
        print(f"[{name}] language detection (column ignored): "
              f"{sum(detected[i] == rows[i]['language'] for i in idx) / len(idx):.3f}")
    print(f"\ntime to score {len(rows)} sentences: median {statistics.median(times) * 1000:.1f} ms "
          f"(plain VADER baseline {statistics.median(t_base) * 1000:.1f} ms, "
          f"ratio {statistics.median(times) / statistics.median(t_base):.2f}), {args.runs} runs")
    if args.customers:
        generated(args.customers, args.runs)
    if args.errors:
        for r, p, t in zip(rows, predicted, themes):
            if r["split"] != "tune":
                continue
            want = set(filter(None, r["themes"].split(";")))
            if p != r["sentiment"] or want != set(t):
                s = model.score(r["text"], r["language"]).score
                print(f"{r['language']} want={r['sentiment']:8} got={p:8} {s:+.2f} themes want={sorted(want)} "
                      f"got={t} | {r['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
