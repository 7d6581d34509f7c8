"""Two segments side by side: the same funnel, stage KPIs, stage transitions and feedback, with
the differences that are statistically significant flagged.

Each analysis runs once inside each segment's scope (:func:`.segments.segment_scope`), so the
numbers are exactly those of ``parcours funnel --segment A`` and so on. The tests (two-sided;
details in ``docs/segments.md``):

* rates (funnel step conversion from the previous step, stage conversion, share of persons
  making a transition, CSAT): two-proportion z-test with pooled variance (the 2x2 chi-square
  without continuity correction);
* times to reach a funnel step from step 1 and CES answers: Mann-Whitney U;
* NPS: z-test of the difference, whose variance is the sum of each NPS's variance
  ``(p + d − (p − d)²) / n``; the 95 % interval of the difference is given;
* the p-values of all comparisons together are adjusted by Benjamini–Hochberg (q-values); a
  difference is flagged when ``q ≤ alpha``. A comparison with no observation on a side has
  no p-value and is not counted.

The two segments are treated as independent samples: persons in both weaken the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._common import json_ready
from .segments import segment_scope

__all__ = ["CompareResult", "compare", "two_proportions", "nps_difference"]

Z95 = 1.959963984540054


# -- tests ---------------------------------------------------------------------------------
def two_proportions(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value that k1/n1 and k2/n2 differ; None when a side has no observation."""
    from scipy import stats

    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = (k2 / n2 - k1 / n1) / math.sqrt(var)
    return float(2 * stats.norm.sf(abs(z)))


def _mann_whitney(x: Iterable[float], y: Iterable[float]) -> float | None:
    from scipy import stats

    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    if len(x) == 0 or len(y) == 0:
        return None
    if np.all(x == x[0]) and np.all(y == x[0]):
        return 1.0
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def nps_difference(a: dict, b: dict) -> dict | None:
    """NPS of b minus NPS of a (points), its 95 % interval and two-sided p-value."""
    from scipy import stats

    if not a["n"] or not b["n"]:
        return None

    def shares(m):
        return m["promoters"] / m["n"], m["detractors"] / m["n"]

    (pa, da), (pb, db) = shares(a), shares(b)
    var = (max(pa + da - (pa - da) ** 2, 0) / a["n"]) + (max(pb + db - (pb - db) ** 2, 0) / b["n"])
    diff = (pb - db) - (pa - da)
    se = math.sqrt(var)
    p = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(diff) / se))
    if se == 0 and diff != 0:
        p = 0.0
    return {"effect": 100 * diff, "ci_low": 100 * (diff - Z95 * se), "ci_high": 100 * (diff + Z95 * se),
            "p_value": p}


def _expand(distribution: list[dict]) -> np.ndarray:
    return np.repeat([d["score"] for d in distribution], [d["count"] for d in distribution]).astype(float)


# -- result --------------------------------------------------------------------------------
@dataclass
class CompareResult:
    segments: list[str]
    alpha: float
    #: [{"step", "a": {...}, "b": {...}}]
    funnel: list[dict] = field(default_factory=list)
    #: [{"stage", "label", "a": {...}, "b": {...}}]
    kpis: list[dict] = field(default_factory=list)
    #: [{"from", "to", "a": {"customers", "share"}, "b": {...}}]
    paths: list[dict] = field(default_factory=list)
    #: {"a": feedback measures, "b": ...}
    feedback: dict = field(default_factory=dict)
    #: [{"measure", "where", "a", "b", "effect", "p_value", "q_value", "significant"}]
    differences: list[dict] = field(default_factory=list)

    def significant(self) -> list[dict]:
        return [d for d in self.differences if d["significant"]]

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return json_ready(v)

        return clean({"segments": self.segments, "alpha": self.alpha, "funnel": self.funnel,
                      "kpis": self.kpis, "paths": self.paths, "feedback": self.feedback,
                      "differences": self.differences})

    def to_frame(self) -> pd.DataFrame:
        """The differences, one row per comparison, significant ones first."""
        cols = ["measure", "where", "a", "b", "effect", "p_value", "q_value", "significant"]
        frame = pd.DataFrame(self.differences, columns=cols)
        return frame.sort_values(["significant", "q_value"], ascending=[False, True],
                                 na_position="last", kind="stable").reset_index(drop=True)


# -- the comparison ------------------------------------------------------------------------
def _one_side(store, model, steps, stages, window, lang, with_feedback):
    from .funnel import funnel, funnel_people
    from .kpis import stage_kpis
    from .paths import paths

    f = funnel(store, steps, window=window, stages=stages)
    times = []
    for k in range(1, len(f.steps)):
        people = funnel_people(store, steps, step=k, window=window, stages=stages).people
        times.append([(pd.Timestamp(p["step_at"]) - pd.Timestamp(p["entered_at"])).total_seconds()
                      for p in people])
    k = stage_kpis(store, model, conversion_window=window, lang=lang)
    p = paths(store, by="stage")
    fb = None
    if with_feedback:
        from .feedback import feedback

        fb = feedback(store).overall
    return f, times, k, p, fb


def compare(store, model, a: str, b: str, steps: Iterable | None = None, window=None,
            top: int = 10, alpha: float = 0.05, *, lang: str = "en") -> CompareResult:
    """Segment ``a`` against segment ``b``: effects are b minus a."""
    if a == b:
        raise AnalysisError("compare needs two different segments")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be between 0 and 1, not {alpha}")
    if top < 1:
        raise AnalysisError(f"top must be at least 1, not {top}")
    steps = list(steps or [])
    stages = not steps
    steps = steps or list(model.path_order)
    window = model.window if window is None else window
    with_feedback = store.has_table("feedback")
    sides = []
    for name in (a, b):
        with segment_scope(store, name):
            sides.append(_one_side(store, model, steps, stages, window, lang, with_feedback))
    (fa, ta, ka, pa, fba), (fb_, tb, kb, pb, fbb) = sides
    result = CompareResult([a, b], alpha)
    diffs = result.differences

    def add(measure, where, va, vb, p, **extra):
        effect = None if va is None or vb is None else vb - va
        diffs.append({"measure": measure, "where": where, "a": va, "b": vb,
                      "effect": extra.pop("effect", effect), "p_value": p, **extra})

    # funnel
    for i, (sa, sb) in enumerate(zip(fa.steps, fb_.steps)):
        result.funnel.append({"step": sa.name, "a": sa.to_dict(), "b": sb.to_dict()})
        if i == 0:
            continue
        prev_a, prev_b = fa.steps[i - 1].count, fb_.steps[i - 1].count
        add("funnel_conversion", sa.name, sa.conversion_from_previous, sb.conversion_from_previous,
            two_proportions(sa.count, prev_a, sb.count, prev_b))
        xa, xb = ta[i - 1], tb[i - 1]
        add("funnel_seconds_from_start", sa.name, float(np.median(xa)) if xa else None,
            float(np.median(xb)) if xb else None, _mann_whitney(xa, xb))
    # stage KPIs
    for sa, sb in zip(ka.stages, kb.stages):
        keep = ("reach", "conversion", "abandonment", "median_seconds", "repurchase_rate",
                "referral_rate", "backward_rate")
        result.kpis.append({"stage": sa["stage"], "label": sa["label"],
                            "a": {m: sa.get(m) for m in keep}, "b": {m: sb.get(m) for m in keep}})
        if sa.get("conversion") is None and sb.get("conversion") is None:
            continue
        conv = [(round((s.get("conversion") or 0) * (s.get("reach") or 0)), s.get("reach") or 0) for s in (sa, sb)]
        add("stage_conversion", sa["stage"], sa.get("conversion"), sb.get("conversion"),
            two_proportions(conv[0][0], conv[0][1], conv[1][0], conv[1][1]))
    # stage transitions: the top ones of either side
    def by_pair(res):
        return {(r["from"], r["to"]): r["customers"] for r in res.transitions}

    ca, cb = by_pair(pa), by_pair(pb)
    ranked = sorted(set(ca) | set(cb), key=lambda k: (-(ca.get(k, 0) + cb.get(k, 0)), str(k)))
    chosen = set(sorted(ca, key=lambda k: (-ca[k], str(k)))[:top]) | set(sorted(cb, key=lambda k: (-cb[k], str(k)))[:top])
    for key in [k for k in ranked if k in chosen]:
        sides_ = []
        for counts, res in ((ca, pa), (cb, pb)):
            n = counts.get(key, 0)
            sides_.append({"customers": n, "share": n / res.customers if res.customers else None})
        result.paths.append({"from": key[0], "to": key[1], "a": sides_[0], "b": sides_[1]})
        add("transition_share", f"{key[0]} → {key[1]}", sides_[0]["share"], sides_[1]["share"],
            two_proportions(sides_[0]["customers"], pa.customers, sides_[1]["customers"], pb.customers))
    # feedback
    if with_feedback:
        result.feedback = {"a": fba, "b": fbb}
        nps = nps_difference(fba["nps"], fbb["nps"])
        if nps is not None:
            add("nps", "overall", fba["nps"]["score"], fbb["nps"]["score"], nps["p_value"],
                effect=nps["effect"], ci_low=nps["ci_low"], ci_high=nps["ci_high"])
        add("csat", "overall", fba["csat"]["score"], fbb["csat"]["score"],
            two_proportions(fba["csat"]["satisfied"], fba["csat"]["n"], fbb["csat"]["satisfied"], fbb["csat"]["n"]))
        add("ces", "overall", fba["ces"]["mean"], fbb["ces"]["mean"],
            _mann_whitney(_expand(fba["ces"]["distribution"]), _expand(fbb["ces"]["distribution"])))
    _adjust(diffs, alpha)
    return result


def _adjust(diffs: list[dict], alpha: float) -> None:
    """Benjamini–Hochberg q-values over every comparison that has a p-value."""
    from scipy import stats

    tested = [d for d in diffs if d["p_value"] is not None]
    qs = stats.false_discovery_control([d["p_value"] for d in tested], method="bh") if tested else []
    for d in diffs:
        d["q_value"] = None
        d["significant"] = False
    for d, q in zip(tested, qs):
        d["q_value"] = float(q)
        d["significant"] = bool(q <= alpha)
