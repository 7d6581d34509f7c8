"""Accuracy of the verbatim models against a labelled set (used by the bench and the tests).

A labelled set is a CSV with columns ``text``, ``language`` (fr/en), ``sentiment``
(negative/neutral/positive), ``themes`` (theme ids separated by ``;``, maybe empty) and
optionally ``split`` (``tune``: looked at while adjusting the lexicons; ``holdout``: not).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from .sentiment import LABELS
from .themes import THEMES

__all__ = ["load_labelled", "sentiment_report", "theme_report"]


def load_labelled(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sentiment_report(rows: Sequence[dict], predicted: Sequence[str]) -> dict:
    """Accuracy overall and per language, recall per class, and macro-F1 over the three classes."""
    pairs = list(zip(rows, predicted))
    out = {"n": len(pairs), "accuracy": sum(p == r["sentiment"] for r, p in pairs) / len(pairs)}
    for lang in ("fr", "en"):
        sub = [(r, p) for r, p in pairs if r["language"] == lang]
        out[f"accuracy_{lang}"] = sum(p == r["sentiment"] for r, p in sub) / len(sub) if sub else None
    f1s = []
    for c in LABELS:
        tp = sum(1 for r, p in pairs if p == c and r["sentiment"] == c)
        fp = sum(1 for r, p in pairs if p == c and r["sentiment"] != c)
        fn = sum(1 for r, p in pairs if p != c and r["sentiment"] == c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[f"recall_{c}"] = rec
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    out["macro_f1"] = sum(f1s) / len(f1s)
    return out


def theme_report(rows: Sequence[dict], predicted: Sequence[Sequence[str]]) -> dict:
    """Precision and recall per theme, and micro-averaged over all (sentence, theme) pairs."""
    out = {}
    tp_all = fp_all = fn_all = 0
    for theme in THEMES:
        tp = fp = fn = 0
        for r, p in zip(rows, predicted):
            want = theme.id in r["themes"].split(";")
            got = theme.id in p
            tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        out[theme.id] = {"precision": tp / (tp + fp) if tp + fp else None,
                         "recall": tp / (tp + fn) if tp + fn else None, "n": tp + fn}
    out["micro"] = {"precision": tp_all / (tp_all + fp_all) if tp_all + fp_all else None,
                    "recall": tp_all / (tp_all + fn_all) if tp_all + fn_all else None}
    return out
