"""Customer lifetime value: historical, and predictive with BG/NBD and Gamma-Gamma.

* Historical CLV of a customer: the sum of ``value × margin`` of their purchases up to the
  end of the calibration period.
* Predictive CLV: the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
  easy way: an alternative to the Pareto/NBD model") predicts the number of purchases; the
  Gamma-Gamma model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
  customer base analysis") predicts the mean value of a purchase. Both are fitted here by
  maximum likelihood (scipy.optimize on the logarithms of the parameters, so they stay
  positive) with their closed-form log-likelihoods written with ``gammaln``, ``betaln`` and
  ``logsumexp`` so large counts do not overflow.

  ``predicted_clv = expected purchases over the horizon × expected mean spend × margin``,
  undiscounted, or with ``discount_rate`` per time unit the sum over the horizon's units
  t = 1..H of the expected purchases in unit t divided by ``(1 + discount_rate) ** t``.

The summary statistics per customer (what the models are fitted on), in time units of
``unit`` (day or week), with calendar periods in UTC (days; ISO weeks from Monday):

* a customer's purchases are counted at most once per time unit (several purchases the same
  day, or week, are one transaction whose value is their sum);
* ``frequency`` x = the number of time units with a purchase, minus one (repeat purchases);
* ``recency`` t_x = units from the first purchase to the last one;
* ``T`` = units from the first purchase to the end of the calibration period;
* the mean spend of a customer (Gamma-Gamma) is the mean value of their *repeat*
  transactions (the first one is left out, as in the papers); Gamma-Gamma is fitted on the
  customers with x > 0 and a positive mean.

The data is read from ``journey_view`` (or the same rows from ``journey_events``' codes,
``engine="codes"``): the purchases (``event = purchase_event``) of each
person up to ``calibration_end`` (default: the last event of the view) are aggregated per
(person, time unit) in DuckDB; only one row per customer comes back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, choice, json_ready
from .journey_codes import use_codes

__all__ = [
    "ClvResult", "clv", "BgNbd", "GammaGamma", "fit_bgnbd", "fit_gamma_gamma",
    "bgnbd_log_likelihood", "gamma_gamma_log_likelihood", "customer_summary",
]

UNITS = ("day", "week")

CUSTOMER_COLUMNS = ["customer", "frequency", "recency", "T", "p_alive", "expected_purchases",
                    "expected_spend", "historical_clv", "predicted_clv"]


# -- the models ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters: purchase rates ~ Gamma(r, alpha), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = (np.log(a) - np.log(b + x - 1)
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.where(x > 0, log_term, 0.0))), 1.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (FHL 2005, eq. 10)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        num = (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = (np.log(a) - np.log(b + x - 1)
                        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        den = 1.0 + np.where(x > 0, np.exp(np.where(x > 0, log_term, 0.0)), 0.0)
        return num / den


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma spend model: transaction values ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float

    def to_dict(self) -> dict:
        return {"p": self.p, "q": self.q, "v": self.v}

    def expected_spend(self, x, mean_value) -> np.ndarray:
        """E[M | x, m_x] = p (v + x m_x) / (p x + q - 1); the population mean p v / (q - 1) for x = 0."""
        x = np.asarray(x, dtype=float)
        m = np.nan_to_num(np.asarray(mean_value, dtype=float))
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1)


def bgnbd_log_likelihood(params, x, t_x, T, weights=None) -> float:
    """Sum of the BG/NBD log-likelihoods (FHL 2005, eq. 7) of the customers (x, t_x, T).

    ln L = ln Γ(r+x) − ln Γ(r) + r ln α
           + ln( B(a, b+x)/B(a, b) (α+T)^−(r+x) + [x>0] B(a+1, b+x−1)/B(a, b) (α+t_x)^−(r+x) )
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a1 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    pos = x > 0
    a2 = np.full_like(x, -np.inf)
    a2[pos] = (special.betaln(a + 1, b + x[pos] - 1) - special.betaln(a, b)
               - (r + x[pos]) * np.log(alpha + t_x[pos]))
    ll = common + special.logsumexp(np.stack([a1, a2]), axis=0)
    return float(np.sum(w * ll))


def gamma_gamma_log_likelihood(params, x, mean_value, weights=None) -> float:
    """Sum of the Gamma-Gamma log-likelihoods of the mean values m_x of x > 0 transactions.

    ln f(m_x | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m_x + px ln x − (px+q) ln(v + x m_x)
    """
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    px = p * x
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m))
    return float(np.sum(w * ll))


def _maximise(negll, n_params: int) -> np.ndarray:
    """Minimise ``negll(exp(theta))`` from theta = 0: L-BFGS-B with tight tolerances, and a
    Nelder-Mead polish only when it reports no convergence (the polish costs thousands of
    evaluations: seconds on a flat ridge of the likelihood, for nothing when L-BFGS-B converged)."""

    def f(theta):
        theta = np.clip(theta, -30, 30)
        val = negll(np.exp(theta))
        return val if np.isfinite(val) else 1e300

    best = optimize.minimize(f, np.zeros(n_params), method="L-BFGS-B",
                             options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000})
    theta = best.x
    if not best.success:
        polished = optimize.minimize(f, best.x, method="Nelder-Mead",
                                     options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000})
        theta = polished.x if polished.fun <= best.fun else best.x
    return np.exp(theta)


def fit_bgnbd(frequency, recency, T) -> BgNbd:
    """Maximum-likelihood BG/NBD fit on per-customer (x, t_x, T); identical rows are pooled."""
    data = np.column_stack([np.asarray(v, dtype=float) for v in (frequency, recency, T)])
    if len(data) == 0:
        raise AnalysisError("BG/NBD needs at least one customer")
    if not (data[:, 0] > 0).any():
        raise AnalysisError("BG/NBD needs at least one customer with a repeat purchase")
    if (data < 0).any() or (data[:, 1] > data[:, 2]).any():
        raise AnalysisError("BG/NBD needs 0 <= recency <= T and frequency >= 0")
    rows, counts = np.unique(data, axis=0, return_counts=True)
    x, t_x, T_ = rows.T
    scale = counts.sum()
    r, alpha, a, b = _maximise(lambda p: -bgnbd_log_likelihood(p, x, t_x, T_, counts) / scale, 4)
    return BgNbd(float(r), float(alpha), float(a), float(b))


def fit_gamma_gamma(frequency, mean_value) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma fit on the customers with frequency > 0 and a positive mean."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    if keep.sum() < 2:
        raise AnalysisError("Gamma-Gamma needs at least two repeat customers with a positive spend")
    rows, counts = np.unique(np.column_stack([x[keep], m[keep]]), axis=0, return_counts=True)
    scale = counts.sum()
    p, q, v = _maximise(lambda par: -gamma_gamma_log_likelihood(par, rows[:, 0], rows[:, 1], counts) / scale, 3)
    return GammaGamma(float(p), float(q), float(v))


# -- the analysis ------------------------------------------------------------------------
@dataclass
class ClvResult:
    unit: str
    horizon: int
    margin: float
    discount_rate: float | None
    calibration_end: dt.datetime | None
    params: dict | None = None
    gamma_gamma: dict | None = None
    #: one dict per customer, keys as in :data:`CUSTOMER_COLUMNS`.
    customers: list[dict] = field(default_factory=list)
    #: why a model could not be fitted (too little data), if it could not.
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "unit": self.unit,
            "horizon": self.horizon,
            "margin": self.margin,
            "discount_rate": self.discount_rate,
            "calibration_end": json_ready(self.calibration_end),
            "params": self.params,
            "gamma_gamma": self.gamma_gamma,
            "customers": self.customers,
            "notes": self.notes,
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.customers, columns=CUSTOMER_COLUMNS)


#: where the purchases come from: journey_view, or journey_events' codes (no join to the raw
#: events; names only for the purchases' persons). Same columns, same rows.
_PURCHASES = {
    False: (f'SELECT person_id, "timestamp", value FROM {JOURNEY} WHERE event = ? AND person_id IS NOT NULL',
            f'SELECT max("timestamp") FROM {JOURNEY}'),
    True: ("SELECT p.person_id, make_timestamp(j.ts) AS \"timestamp\", j.value FROM journey_events j "
           "JOIN persons p ON p.person_key = j.person_key "
           "WHERE j.event_code = (SELECT code FROM dim_event WHERE name = ?) AND p.person_id IS NOT NULL",
           "SELECT make_timestamp(max(ts)) FROM journey_events"),
}


def customer_summary(store, purchase_event: str = "purchase", calibration_end=None,
                     unit: str = "week", margin: float = 1.0,
                     engine: str = "auto") -> tuple[pd.DataFrame, dt.datetime | None]:
    """Per customer: frequency, recency, T, repeat mean value and historical CLV (see module doc).

    ``engine``: ``codes`` reads journey_events, ``portable`` journey_view; ``auto`` the first
    when the store has it.
    """
    choice("unit", unit, UNITS)
    purchases, last_event = _PURCHASES[use_codes(store, engine)]
    end = as_time(calibration_end)
    if end is None:
        end = store.scalar(last_event)
    cols = ["customer", "frequency", "recency", "T", "mean_value", "historical_clv"]
    if end is None:
        return pd.DataFrame(columns=cols), None
    # period numbers: days since the epoch, or ISO weeks (Monday) since the epoch's week.
    pn = ("(date_diff('day', DATE '1970-01-01', CAST({c} AS DATE)))" if unit == "day"
          else "(date_diff('day', DATE '1969-12-29', CAST({c} AS DATE)) // 7)")
    sql = f"""
        WITH tx AS (
            SELECT person_id AS customer, {pn.format(c='"timestamp"')} AS period,
                   sum(coalesce(value, 0)) AS value
            FROM ({purchases})
            WHERE "timestamp" <= ?
            GROUP BY ALL),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY customer ORDER BY period) AS k FROM tx)
        SELECT customer,
               count(*) - 1 AS frequency,
               max(period) - min(period) AS recency,
               {pn.format(c='CAST(? AS TIMESTAMP)')} - min(period) AS "T",
               avg(value) FILTER (WHERE k > 1) AS mean_value,
               sum(value) * ? AS historical_clv
        FROM ranked GROUP BY customer ORDER BY customer"""
    frame = store.sql(sql, [purchase_event, end, end, float(margin)]).df()
    for c in ("frequency", "recency", "T"):
        frame[c] = frame[c].astype(float)
    return frame[cols], end


def clv(store, purchase_event: str = "purchase", calibration_end=None, unit: str = "week",
        horizon: int = 52, margin: float = 1.0, discount_rate: float | None = None,
        engine: str = "auto") -> ClvResult:
    """Historical and predictive CLV per customer (see the module doc for the definitions).

    ``horizon`` is in ``unit``s (52 days or 52 weeks). ``discount_rate`` (per unit, e.g.
    0.01 per week) discounts the expected purchases of each future unit; None = undiscounted.
    """
    choice("unit", unit, UNITS)
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon <= 0:
        raise AnalysisError(f"horizon must be a positive whole number of {unit}s, not {horizon!r}")
    if discount_rate is not None and not discount_rate > -1:
        raise AnalysisError(f"discount_rate must be greater than -1, not {discount_rate!r}")
    summary, end = customer_summary(store, purchase_event, calibration_end, unit, margin, engine)
    result = ClvResult(unit, horizon, float(margin), discount_rate, end)
    if summary.empty:
        return result
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    n = len(summary)
    p_alive = expected = spend = np.full(n, np.nan)
    model = None
    try:
        model = fit_bgnbd(x, t_x, T)
        result.params = model.to_dict()
        p_alive = model.p_alive(x, t_x, T)
        if discount_rate is None:
            expected = model.expected_purchases(horizon, x, t_x, T)
        else:
            steps = np.arange(horizon + 1, dtype=float)[:, None]
            cum = model.expected_purchases(steps, x, t_x, T)
            per_unit = np.diff(cum, axis=0)
            expected = (per_unit / (1 + discount_rate) ** steps[1:]).sum(axis=0)
    except AnalysisError as exc:
        result.notes.append(str(exc))
    try:
        gg = fit_gamma_gamma(x, summary["mean_value"].to_numpy(float))
        if gg.q <= 1:
            raise AnalysisError("Gamma-Gamma fit has q <= 1: the expected spend is not finite")
        result.gamma_gamma = gg.to_dict()
        spend = gg.expected_spend(x, summary["mean_value"].to_numpy(float))
    except AnalysisError as exc:
        result.notes.append(str(exc))
    predicted = expected * spend * margin
    for i, row in enumerate(summary.itertuples(index=False)):
        result.customers.append({
            "customer": row.customer,
            "frequency": int(row.frequency),
            "recency": float(row.recency),
            "T": float(row.T),
            "p_alive": json_ready(float(p_alive[i])),
            "expected_purchases": json_ready(float(expected[i])),
            "expected_spend": json_ready(float(spend[i])),
            "historical_clv": json_ready(float(row.historical_clv)),
            "predicted_clv": json_ready(float(predicted[i])),
        })
    return result
