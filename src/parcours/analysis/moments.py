"""Moments of truth: the touchpoints whose presence changes the outcome most, for better or worse.

Outcomes: ``conversion`` (a conversion event at or after the moment), ``satisfaction`` (the
person's first scored answer at or after the moment is not negative; people who give none
are left out), ``retention`` (among people who had converted at or before the moment, a
conversion again after it: a repeat purchase).

The obvious confounding is progress: people who reach later stages see more touchpoints and
convert more, so a raw "converted with vs without" flatters every late touchpoint. The
effect is therefore estimated within strata of progress and pooled:

* an exposed person's stratum is the furthest stage (by the model's order) they had reached
  before they first met the touchpoint (a stratum of its own when it was their first event);
  conversion events themselves are not exposures (the touchpoint where people pay would
  otherwise be a moment of truth by definition);
* strata are also split by channel (the touchpoint event's channel; for the unexposed, the
  channel of the event where they reached the stage), so that people buying straight in a
  store are not the baseline of a web checkout page; when nobody reached the stage on that
  channel, the unexposed of every channel are the baseline;
* the unexposed of stratum s are the people who reached stage s (or further) and never met
  the touchpoint, taken from the moment they first reached it;
* for conversion, people who had already converted by that moment are left out (their
  outcome is decided); for retention, people who had not converted yet (not customers), the
  success being a conversion strictly after the moment;
  for satisfaction, people with no scored answer after it;
* the per-stratum risk differences are pooled with Mantel–Haenszel weights
  ``n1·n0/(n1+n0)``; the 95 % interval uses the weighted sum of the strata's Wald
  variances. An unexposed person can serve in several strata, which this interval ignores.

P-values (z of the pooled difference) are adjusted by Benjamini–Hochberg over the
touchpoints; ``significant`` says whether the touchpoint clears ``fdr``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError
from ._common import json_ready
from .journey_frame import CONVERSIONS, JourneyFrame, load
from .significance import benjamini_hochberg

__all__ = ["moments_of_truth", "Moment", "MomentsResult", "stratified_difference"]


@dataclass
class Moment:
    touchpoint: str
    channel: str | None  # where the touchpoint mostly is
    stage: str | None
    exposed: int
    effect: float  # pooled risk difference of conversion, exposed minus unexposed
    low: float
    high: float
    crude: float  # the unadjusted difference, for comparison
    p_value: float
    q_value: float
    significant: bool

    def to_dict(self) -> dict:
        return {k: json_ready(v) for k, v in self.__dict__.items()}


@dataclass
class MomentsResult:
    outcome: str
    moments: list[Moment]
    fdr: float

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "fdr": self.fdr, "moments": [m.to_dict() for m in self.moments]}

    def to_frame(self) -> pd.DataFrame:
        cols = ["touchpoint", "channel", "stage", "exposed", "effect", "low", "high", "crude", "p_value",
                "q_value", "significant"]
        return pd.DataFrame([m.to_dict() for m in self.moments], columns=cols)


def stratified_difference(strata: list[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    """(pooled difference, its variance, crude difference) from strata (k1, n1, k0, n0)."""
    num = den = var = 0.0
    k1s = n1s = k0s = n0s = 0
    for k1, n1, k0, n0 in strata:
        k1s, n1s, k0s, n0s = k1s + k1, n1s + n1, k0s + k0, n0s + n0
        if n1 == 0 or n0 == 0:
            continue
        w = n1 * n0 / (n1 + n0)
        p1, p0 = k1 / n1, k0 / n0
        num += w * (p1 - p0)
        den += w
        var += w * w * (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    crude = (k1s / n1s - k0s / n0s) if n1s and n0s else float("nan")
    if den == 0:
        return float("nan"), float("nan"), crude
    return num / den, var / (den * den), crude


def _mode_stage(hits: pd.DataFrame):
    s = hits.stage.astype(object).dropna()
    return None if s.empty else s.value_counts().index[0]


OUTCOMES = ("conversion", "satisfaction", "retention")


def _conversion_outcome(people: pd.Index, ev: pd.DataFrame, conversions, *, customers: bool = False):
    """At time t: eligible unless converted before t; success if a conversion at or after t.

    ``customers=True`` is retention: eligible only if converted at or before t (a customer: the
    purchase itself is where the unexposed are taken from), success if they convert again
    after t."""
    conv = ev[ev.event.isin(conversions)]
    fc = conv.groupby("pid").ts.min().reindex(people).to_numpy()
    lc = conv.groupby("pid").ts.max().reindex(people).to_numpy()

    def outcome(idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, last = fc[idx], lc[idx]
        if customers:
            return f <= t, last > t
        return ~(f < t), last >= t

    return outcome


def _satisfaction_outcome(people: pd.Index, feedback: pd.DataFrame):
    """At time t: eligible if the person gives a scored answer at or after t; success if the
    first such answer is not negative (NPS 0-6, CSAT or review 1-2, CES 5-7)."""
    fb = feedback[(feedback.pid >= 0) & feedback.score.notna()][["pid", "ts", "negative"]]
    fb = fb.sort_values("ts", kind="stable")

    def outcome(idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = pd.DataFrame({"pid": people.to_numpy()[idx], "t": pd.to_datetime(t), "i": np.arange(len(idx))})
        q = q.dropna(subset=["t"]).sort_values("t", kind="stable")
        hit = pd.merge_asof(q, fb, left_on="t", right_on="ts", by="pid", direction="forward")
        eligible = np.zeros(len(idx), dtype=bool)
        good = np.zeros(len(idx), dtype=bool)
        found = hit.ts.notna().to_numpy()
        eligible[hit.i.to_numpy()[found]] = True
        good[hit.i.to_numpy()[found]] = ~hit.negative.to_numpy()[found].astype(bool)
        return eligible, good

    return outcome


def moments_of_truth(store, *, outcome: str = "conversion", conversions=CONVERSIONS,
                     min_exposed: int = 30, fdr: float = 0.05, since=None, until=None,
                     frame: JourneyFrame | None = None) -> MomentsResult:
    """Every touchpoint met by at least ``min_exposed`` people, by adjusted effect on the outcome
    (``conversion``; ``retention``: customers converting again; or ``satisfaction``: the first
    scored answer after it is not negative). ``frame``: the journeys already loaded with the
    same conversions and bounds (the map shares one with the pain points)."""
    if outcome not in OUTCOMES:
        raise AnalysisError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if isinstance(conversions, str):
        conversions = (conversions,)
    if not conversions:
        raise AnalysisError("moments of truth need at least one conversion event, e.g. purchase")
    if not 0 < fdr < 1:
        raise AnalysisError(f"fdr must be between 0 and 1, not {fdr!r}")
    jf = frame or load(store, tuple(conversions), since=since, until=until)
    ev = jf.events
    if ev.empty:
        return MomentsResult(outcome, [], fdr)
    reached = ev.groupby("pid").stage_index.cummax()
    ev = ev.assign(reached=reached, before=reached.groupby(ev.pid).shift(1).fillna(-1).astype(int))
    ranks = [-1] + sorted(int(r) for r in pd.unique(ev.stage_index.dropna()))
    people = pd.Index(pd.unique(ev.pid))
    everyone = np.arange(len(people))
    judge = (_satisfaction_outcome(people, jf.feedback) if outcome == "satisfaction"
             else _conversion_outcome(people, ev, conversions, customers=outcome == "retention"))
    # per stage rank (-1: the start): when each person first reached it (or further), on which
    # channel, and the outcome from then on
    reach_channel, baseline = {}, {}
    for r in ranks:
        at = ev[ev.reached >= r].groupby("pid").head(1).set_index("pid").reindex(people)
        reach_channel[r] = at.channel.astype(object).fillna("").to_numpy()
        eligible, good = judge(everyone, at.ts.to_numpy())
        baseline[r] = (at.ts.notna().to_numpy() & eligible, good)
    rows = []
    tps = ev[ev.touchpoint.notna() & ~ev.event.isin(conversions)]
    for tp, hits in tps.groupby(tps.touchpoint.astype(object)):
        first = hits.groupby("pid").head(1).set_index("pid")
        idx = people.get_indexer(first.index)
        exposed = np.zeros(len(people), dtype=bool)  # met it at some point: never a baseline
        exposed[idx] = True
        eligible1, good1 = judge(idx, first.ts.to_numpy())
        if eligible1.sum() < min_exposed:
            continue
        channel1 = first.channel.astype(object).fillna("").to_numpy()
        before1 = first.before.to_numpy()
        strata = []
        for r in ranks:
            ok0, good0 = baseline[r]
            base = ok0 & ~exposed
            for ch in pd.unique(channel1[eligible1]):
                m = eligible1 & (before1 == r) & (channel1 == ch)
                if not m.any():
                    continue
                pool = base & (reach_channel[r] == ch)
                if not pool.any():  # nobody reached the stage on that channel: any channel
                    pool = base
                strata.append((int(good1[m].sum()), int(m.sum()), int(good0[pool].sum()), int(pool.sum())))
        effect, var, crude = stratified_difference(strata)
        if effect != effect:
            continue
        se = float(np.sqrt(var))
        z = effect / se if se > 0 else 0.0
        log_p = float(np.log(2) + stats.norm.logsf(abs(z))) if se > 0 else 0.0
        rows.append((tp, hits.channel.astype(object).dropna().mode(), _mode_stage(hits), int(eligible1.sum()),
                     effect, effect - 1.96 * se, effect + 1.96 * se, crude, min(log_p, 0.0)))
    q = benjamini_hochberg(np.array([r[-1] for r in rows]))
    moments = [Moment(tp, ch.iloc[0] if len(ch) else None, st, n, e, lo, hi, c, float(np.exp(lp)), float(qi),
                      bool(qi <= fdr)) for (tp, ch, st, n, e, lo, hi, c, lp), qi in zip(rows, q)]
    moments.sort(key=lambda m: (not m.significant, -abs(m.effect)))
    return MomentsResult(outcome, moments, fdr)
