"""Lift: the goal rate of treated customers against the holdout, with its confidence interval.

Entrants are split by hash before any step, so the holdout (and the global control group,
who also receive nothing) is a random sample of the same entrants: the difference of goal
rates within the goal window estimates the scenario's effect. The interval is Newcombe's
hybrid score interval for a difference of proportions (built from two Wilson intervals),
which keeps its coverage with small groups and rates near 0 or 1, where the normal
approximation does not.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from ..errors import AnalysisError
from .scenario import Scenario, duration
from .engine import REAL, Tables

UNTREATED = ("holdout", "control")


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference p1 - p2 and its interval (Newcombe 1998, method 10)."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


@dataclass
class LiftResult:
    scenario: str
    goal: str
    window: str
    as_of: dt.datetime | None
    treated: int = 0
    treated_goal: int = 0
    holdout: int = 0
    holdout_goal: int = 0
    confidence: float = 0.95
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    variants: list[dict] = field(default_factory=list)

    @property
    def treated_rate(self) -> float | None:
        return self.treated_goal / self.treated if self.treated else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_goal / self.holdout if self.holdout else None

    @property
    def relative(self) -> float | None:
        if self.difference is None or not self.holdout_rate:
            return None
        return self.difference / self.holdout_rate

    @property
    def significant(self) -> bool | None:
        return None if self.low is None else (self.low > 0 or self.high < 0)

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "goal": self.goal, "window": self.window,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "treated": {"entries": self.treated, "goal": self.treated_goal, "rate": self.treated_rate},
                "holdout": {"entries": self.holdout, "goal": self.holdout_goal, "rate": self.holdout_rate},
                "difference": self.difference, "confidence": self.confidence,
                "interval": [self.low, self.high] if self.low is not None else None,
                "relative": self.relative, "significant": self.significant, "variants": self.variants}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.variants)


def lift(store, scenario: Scenario, as_of: dt.datetime | None = None, confidence: float = 0.95,
         tables: Tables = REAL) -> LiftResult:
    """Goal rates of entries whose goal window has closed by ``as_of`` (default: the last event)."""
    if scenario.goal is None:
        raise AnalysisError(f"scenario {scenario.name} has no goal: there is nothing to measure")
    if not 0 < confidence < 1:
        raise AnalysisError("confidence must be between 0 and 1, e.g. 0.95")
    if not store.has_table(tables.state) and not tables.temp:
        raise AnalysisError(f"scenario {scenario.name} has not run yet: run `parcours run` first")
    if as_of is None:
        as_of = store.scalar("SELECT max(\"timestamp\") FROM events")
    window = int(duration(scenario.goal.within).total_seconds())
    cond, params = scenario.goal.event.sql("e")
    rows = store.fetch(f"""
        SELECT coalesce(s.variant, 'treated') AS variant, count(*) AS entries,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.customer_id = s.customer_id
                   AND e."timestamp" > s.entered_at AND e."timestamp" <= s.entered_at + to_seconds({window})
                   AND {cond})) AS reached
        FROM {tables.state} s
        WHERE s.scenario = ? AND s.entered_at + to_seconds({window}) <= ?
        GROUP BY 1 ORDER BY 1""", [*params, scenario.name, as_of])
    res = LiftResult(scenario.name, scenario.goal.event.event, scenario.goal.within, as_of, confidence=confidence)
    for variant, n, k in rows:
        res.variants.append({"variant": variant, "entries": int(n), "goal": int(k), "rate": k / n if n else None})
        if variant in UNTREATED:
            res.holdout += int(n)
            res.holdout_goal += int(k)
        else:
            res.treated += int(n)
            res.treated_goal += int(k)
    if res.treated and res.holdout:
        res.difference, res.low, res.high = newcombe(res.treated_goal, res.treated, res.holdout_goal,
                                                     res.holdout, confidence)
    return res


__all__ = ["lift", "LiftResult", "newcombe", "wilson"]
