"""Pain points: every kind of friction of DOMAIN.md section 5, with evidence, impact and actions.

How it works (details and the measured recall/precision in ``docs/painpoints.md``):

1. The journeys, segments and feedback are read once (:mod:`.journey_frame`).
2. One detector per kind (:mod:`.detectors`) compares each candidate place (stage, step,
   event, channel, segment, and weeks for incidents) with its baseline and returns every
   comparison with its p-value and whether its effect clears the kind's floor.
3. Benjamini–Hochberg over *all* comparisons of the run (every place, every kind) keeps the
   false discovery rate at ``fdr``; what is left and large enough is a finding.
4. Overlapping findings of one kind at one place keep the strongest; negative feedback on a
   checkout step already explained by a checkout friction on the same channel is folded into
   it. Each finding gets example verbatims and the catalogue's actions, and the list is
   ranked by estimated revenue, then conversions, lost per month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._common import json_ready
from .actions import actions_for
from .detectors import DETECTORS, Candidate, Floors, steps_of
from .journey_frame import CONVERSIONS, JourneyFrame, load
from .significance import benjamini_hochberg

KINDS = ("drop_off", "slowness", "loop", "superfluous_step", "silo", "price_inconsistency",
         "surprise_cost", "forced_account", "long_checkout", "negative_feedback", "audience_mismatch")

KIND_LABELS = {
    "drop_off": ("Abandon anormal", "Abnormal drop-off"),
    "slowness": ("Lenteur", "Slowness"),
    "loop": ("Boucle", "Loop"),
    "superfluous_step": ("Étape superflue", "Superfluous step"),
    "silo": ("Silo (le client réexplique)", "Silo (customer explains again)"),
    "price_inconsistency": ("Incohérence de prix entre canaux", "Price inconsistency between channels"),
    "surprise_cost": ("Frais surprise", "Surprise costs"),
    "forced_account": ("Création de compte forcée", "Forced account creation"),
    "long_checkout": ("Tunnel de commande trop long", "Long checkout"),
    "negative_feedback": ("Retours négatifs concentrés", "Negative-feedback concentration"),
    "audience_mismatch": ("Audience inadaptée", "Audience mismatch"),
}
CHECKOUT_KINDS = ("drop_off", "surprise_cost", "forced_account", "long_checkout")
PLACE_KEYS = ("stage", "event", "touchpoint", "channel", "segment")

__all__ = ["painpoints", "PainPoint", "PainPointsResult", "KINDS", "KIND_LABELS", "Floors"]


@dataclass
class PainPoint:
    kind: str
    stage: str | None
    event: str | None
    touchpoint: str | None
    channel: str | None
    segment: str | None
    start: str | None  # ISO date, None when always
    end: str | None
    evidence: dict
    impact: dict
    confidence: float  # 1 - q-value (Benjamini–Hochberg)
    verbatims: list[str] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)

    @property
    def place(self) -> dict:
        return {k: getattr(self, k) for k in PLACE_KEYS}

    def label(self, lang: str = "en") -> str:
        return KIND_LABELS[self.kind][0 if lang == "fr" else 1]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "stage": self.stage, "event": self.event, "touchpoint": self.touchpoint,
                "channel": self.channel, "segment": self.segment, "start": self.start, "end": self.end,
                "when": "always" if self.start is None else "period",
                "evidence": _plain(self.evidence), "impact": _plain(self.impact),
                "confidence": _plain(self.confidence), "verbatims": list(self.verbatims),
                "actions": list(self.actions)}


@dataclass
class PainPointsResult:
    painpoints: list[PainPoint]
    tested: int  # comparisons made (the family Benjamini–Hochberg controls)
    fdr: float
    months: float

    def to_dict(self) -> dict:
        return {"painpoints": [p.to_dict() for p in self.painpoints], "tested": self.tested,
                "fdr": self.fdr, "months": _plain(self.months)}

    def to_frame(self, lang: str = "en") -> pd.DataFrame:
        rows = []
        for p in self.painpoints:
            rows.append({"kind": p.label(lang), **{k: v for k, v in p.place.items()},
                         "start": p.start, "end": p.end, "metric": p.evidence.get("metric"),
                         "value": p.evidence.get("value"), "baseline": p.evidence.get("baseline"),
                         "p_value": p.evidence.get("p_value"), "affected": p.evidence.get("affected_customers"),
                         "lost_conversions_per_month": p.impact.get("lost_conversions_per_month"),
                         "lost_revenue_per_month": p.impact.get("lost_revenue_per_month")})
        cols = ["kind", *PLACE_KEYS, "start", "end", "metric", "value", "baseline", "p_value", "affected",
                "lost_conversions_per_month", "lost_revenue_per_month"]
        return pd.DataFrame(rows, columns=cols)


def _plain(v):
    """JSON-ready, recursively; floats to 6 significant digits (p-values keep their size)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_plain(x) for x in v]
    v = json_ready(v)
    return float(f"{v:.6g}") if isinstance(v, float) else v


def painpoints(store, *, conversions=CONVERSIONS, segment_attribute: str = "segment",
               fdr: float = 0.01, floors: Floors | None = None, since=None, until=None,
               verbatims: int = 3, frame: JourneyFrame | None = None) -> PainPointsResult:
    """Detect, test, filter and rank the pain points of the journeys in ``store``.

    ``frame``: the journeys already loaded with the same conversions, segment attribute and
    bounds (the map shares one with the moments of truth)."""
    if not 0 < fdr < 1:
        raise AnalysisError(f"fdr must be between 0 and 1, not {fdr!r}")
    if isinstance(conversions, str):
        conversions = (conversions,)
    if not conversions:
        raise AnalysisError("pain points need at least one conversion event, e.g. purchase")
    floors = floors or Floors()
    jf = frame or load(store, tuple(conversions), segment_attribute, since, until)
    steps = steps_of(jf)
    candidates: list[Candidate] = []
    for detect in DETECTORS:
        candidates += detect(jf, steps, floors)
    q = benjamini_hochberg(np.array([c.log_p for c in candidates]))
    kept = [(c, qi) for c, qi in zip(candidates, q) if qi <= fdr and c.effect_ok]
    kept = _fold_explained(_fold_delays(_strongest(kept)))
    found = [_finding(c, qi, jf, verbatims) for c, qi in kept]
    found.sort(key=lambda p: (-(p.impact.get("lost_revenue_per_month") or 0),
                              -(p.impact.get("lost_conversions_per_month") or 0),
                              -(p.impact.get("affected_per_month") or 0)))
    return PainPointsResult(found, len(candidates), fdr, jf.months)


def _strongest(kept: list[tuple[Candidate, float]]) -> list[tuple[Candidate, float]]:
    """One finding per kind and place: a place and its refinements keep the most significant."""
    best: dict[tuple, tuple[Candidate, float]] = {}
    for c, q in kept:
        k = c.key()
        if k not in best or c.log_p < best[k][0].log_p:
            best[k] = (c, q)
    return list(best.values())


def _fold_delays(kept: list[tuple[Candidate, float]]) -> list[tuple[Candidate, float]]:
    """A delay pushes back everything after it: of slowness incidents that overlap in time,
    the one with the shortest usual wait is the cause, the others its consequences."""
    slow = sorted([c for c, _ in kept if c.kind == "slowness"],
                  key=lambda c: c.evidence.get("median_wait_days_baseline", 0.0))
    folded = set()
    for i, cause in enumerate(slow):
        if id(cause) in folded:
            continue
        for later in slow[i + 1:]:
            if id(later) not in folded and later.start <= cause.end and cause.start <= later.end:
                folded.add(id(later))
                cause.evidence.setdefault("consequences", []).append(
                    {"event": later.place["event"], "channel": later.place["channel"],
                     "median_wait_days": later.evidence["median_wait_days"],
                     "median_wait_days_baseline": later.evidence["median_wait_days_baseline"]})
    return [(c, q) for c, q in kept if id(c) not in folded]


def _fold_explained(kept: list[tuple[Candidate, float]]) -> list[tuple[Candidate, float]]:
    """Findings another finding explains become its evidence: exits at steps only a long-checkout
    segment goes through, and negative answers about a checkout step where a checkout friction
    on the same channel was found."""
    checkout = [c for c, _ in kept if c.kind in CHECKOUT_KINDS]
    long = {c.place["segment"]: c for c, _ in kept if c.kind == "long_checkout"}
    out = []
    for c, q in kept:
        shares = c.evidence.get("segment_share") or {}
        host = next((long[s] for s, share in shares.items() if s in long and share >= 0.8), None)
        if c.kind in CHECKOUT_KINDS and c.kind != "long_checkout" and host is not None:
            # a step almost only that segment goes through: one of its long checkout's extra steps
            host.evidence.setdefault("extra_step_exits", []).append(
                {"touchpoint": c.place["touchpoint"], "channel": c.place["channel"],
                 "value": c.evidence["value"], "baseline": c.evidence["baseline"]})
            continue
        if c.kind == "negative_feedback":
            host = next((h for h in checkout if h.place["stage"] and h.place["stage"] == c.place["stage"]
                         and (h.place["channel"] is None or h.place["channel"] == c.place["channel"])), None)
            if host is not None:
                host.evidence.setdefault("feedback", []).append(
                    {k: c.evidence[k] for k in ("metric", "value", "baseline", "n")})
                continue
        out.append((c, q))
    return out


def _finding(c: Candidate, q: float, jf: JourneyFrame, n_verbatims: int) -> PainPoint:
    start = None if c.start is None else jf.period_start(c.start).isoformat()
    end = None if c.end is None else jf.period_end(c.end).isoformat()
    evidence = dict(c.evidence)
    evidence["p_value"] = float(np.exp(c.log_p))
    evidence["q_value"] = float(q)
    p = c.place
    return PainPoint(c.kind, p["stage"], p["event"], p["touchpoint"], p["channel"], p["segment"], start, end,
                     evidence, dict(c.impact), 1.0 - float(q), _verbatims(c, jf, n_verbatims),
                     actions_for(c.kind, p["stage"]))


def _verbatims(c: Candidate, jf: JourneyFrame, n: int) -> list[str]:
    """Example texts from the place (its touchpoint/channel and period), else from the
    people it affected; negative ones first."""
    fb = jf.feedback[jf.feedback.text.notna()]
    if fb.empty or n <= 0:
        return []
    if c.start is not None:
        lo = pd.Timestamp(jf.period_start(c.start))
        hi = pd.Timestamp(jf.period_end(c.end)) + pd.Timedelta(days=8)
        fb = fb[(fb.ts >= lo) & (fb.ts < hi)]
    tp, ch = c.place["touchpoint"], c.place["channel"]
    here = fb
    if tp is not None:
        here = here[here.touchpoint == tp]
        if ch is not None:
            here = here[here.channel == ch]
    if tp is None or here.empty:
        who = c.who() if c.who is not None else np.array([], dtype=int)
        here = fb[fb.pid.isin(who)]
    here = here.assign(_neg=~here.negative).sort_values(["_neg", "score", "ts"], na_position="first")
    return list(dict.fromkeys(here.text))[:n]
