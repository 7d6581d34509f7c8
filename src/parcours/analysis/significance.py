"""Tests shared by the detectors: one-sided rate comparisons, period scans, FDR control.

Why these: the pain-point detector looks at hundreds of places at once, so every comparison
must give an honest p-value (scipy's distributions, logarithms so tiny p-values still rank)
and the whole set is filtered by Benjamini–Hochberg, never one place at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["RateTest", "rate_test", "scan_periods", "benjamini_hochberg", "equivalence_test",
           "shift_test"]


@dataclass(frozen=True)
class RateTest:
    """Two proportions k1/n1 (the place) against k0/n0 (its baseline), one-sided."""

    k1: int
    n1: int
    k0: int
    n0: int
    z: float
    log_p: float  # natural log of the one-sided p-value

    @property
    def rate(self) -> float:
        return self.k1 / self.n1 if self.n1 else float("nan")

    @property
    def baseline(self) -> float:
        return self.k0 / self.n0 if self.n0 else float("nan")

    @property
    def difference(self) -> float:
        return self.rate - self.baseline

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Wald interval of the difference (unpooled variance)."""
        p1, p0 = self.rate, self.baseline
        se = math.sqrt(p1 * (1 - p1) / self.n1 + p0 * (1 - p0) / self.n0)
        h = stats.norm.ppf(0.5 + level / 2) * se
        return self.difference - h, self.difference + h


def rate_test(k1: int, n1: int, k0: int, n0: int, higher: bool = True) -> RateTest:
    """Two-proportion z-test (pooled variance), one-sided: is the place's rate higher (lower)?

    With no events on either side the test cannot say anything: p = 1.
    """
    k1, n1, k0, n0 = int(k1), int(n1), int(k0), int(n0)
    if n1 == 0 or n0 == 0:
        return RateTest(k1, n1, k0, n0, 0.0, 0.0)
    pooled = (k1 + k0) / (n1 + n0)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n0)
    if var <= 0:
        return RateTest(k1, n1, k0, n0, 0.0, 0.0)
    z = (k1 / n1 - k0 / n0) / math.sqrt(var)
    if not higher:
        z = -z
    return RateTest(k1, n1, k0, n0, z, float(stats.norm.logsf(z)))


@dataclass(frozen=True)
class Window:
    """The most abnormal run of consecutive periods found by :func:`scan_periods`."""

    start: int  # first period index (inclusive)
    end: int  # last period index (inclusive)
    test: RateTest
    log_p: float  # one-sided p-value corrected for the number of windows scanned
    windows: int


def scan_periods(k: np.ndarray, n: np.ndarray, max_share: float = 0.5, min_n: int = 20,
                 higher: bool = True) -> Window | None:
    """The run of consecutive periods whose rate differs most from the periods around it.

    Every window of 1 to ``max_share`` of the periods is tested (two-proportion z) against
    its neighbourhood: as many periods before it and after it as it is long (fewer at the
    edges), so a slow drift over the year is not taken for an incident. The best window's
    p-value is multiplied by the number of windows tried (Bonferroni), so scanning many
    windows does not manufacture an incident.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    periods = len(n)
    if periods < 3:
        return None
    ck = np.concatenate([[0.0], np.cumsum(k)])
    cn = np.concatenate([[0.0], np.cumsum(n)])
    longest = max(1, int(periods * max_share))
    starts, ends = [], []
    for length in range(1, longest + 1):
        s = np.arange(0, periods - length + 1)
        starts.append(s)
        ends.append(s + length)
    s = np.concatenate(starts)
    e = np.concatenate(ends)
    k1, n1 = ck[e] - ck[s], cn[e] - cn[s]
    lo, hi = np.maximum(s - (e - s), 0), np.minimum(e + (e - s), periods)
    k0, n0 = ck[hi] - ck[lo] - k1, cn[hi] - cn[lo] - n1
    ok = (n1 >= min_n) & (n0 >= min_n)
    if not ok.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        var = pooled * (1 - pooled) * (1 / n1 + 1 / n0)
        z = (k1 / n1 - k0 / n0) / np.sqrt(var)
    z = np.where(ok & (var > 0), z if higher else -z, -np.inf)
    best = int(np.argmax(z))
    if not np.isfinite(z[best]):
        return None
    test = rate_test(k1[best], n1[best], k0[best], n0[best], higher)
    windows = int(ok.sum())
    return Window(int(s[best]), int(e[best]) - 1, test, min(0.0, test.log_p + math.log(windows)), windows)


def benjamini_hochberg(log_p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) from natural-log p-values."""
    log_p = np.asarray(log_p, dtype=float)
    m = len(log_p)
    if m == 0:
        return np.array([])
    order = np.argsort(log_p)
    ranked = log_p[order] + np.log(m) - np.log(np.arange(1, m + 1))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.exp(np.minimum(ranked, 0.0))
    return q


def equivalence_test(k1: int, n1: int, k0: int, n0: int, margin: float) -> tuple[float, float, float]:
    """TOST for two proportions: (difference, log p that |difference| < margin, log p two-sided).

    A small p says the rates are the same within ``margin``: the evidence that a step
    changes nothing.
    """
    p1, p0 = k1 / n1, k0 / n0
    se = math.sqrt(max(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0, 1e-12))
    d = p1 - p0
    lower = stats.norm.logsf((d + margin) / se)
    upper = stats.norm.logcdf((d - margin) / se)
    return d, float(max(lower, upper)), float(math.log(2) + stats.norm.logsf(abs(d) / se))


def shift_test(place: np.ndarray, others: np.ndarray) -> tuple[float, float]:
    """(log p, common-language effect) of a one-sided Mann–Whitney test: place larger."""
    if len(place) == 0 or len(others) == 0:
        return 0.0, 0.5
    res = stats.mannwhitneyu(place, others, alternative="greater")
    effect = res.statistic / (len(place) * len(others))
    return float(np.log(max(res.pvalue, 1e-300))), float(effect)
