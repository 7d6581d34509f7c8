"""Multi-touch attribution: which channels (touchpoints, campaigns) earn the conversions.

Paths
    The events of each person, in (timestamp, seq) order, are cut at each conversion event
    (``event = conversion``). The *touches* of a conversion are the person's events with a
    non-null touch value (``channel``, ``touchpoint`` or ``properties.campaign``), other
    than conversion events, after the person's previous conversion and before this one, no
    more than ``lookback`` before it (``conversion time − touch time <= lookback``). A touch
    is therefore credited to at most one conversion: the first that follows it.
    The touches after a person's last conversion (all of them for a person who never
    converted) form a *non-converting* path, with the same look-back counted back from its
    last touch; those paths only matter to the Markov model.
    A conversion with no touch in its window is credited to :data:`NO_TOUCH`, whatever the
    model (its ``removal_effect`` is null).

Heuristic models (every touch event counts, repeats included)
    ``first``: all to the first touch; ``last``: all to the last; ``linear``: 1/n each;
    ``time_decay``: weight ``2 ** (−Δt / half_life)`` with Δt the time from the touch to the
    conversion, normalised over the path; ``position``: 40 % first, 40 % last, 20 % shared
    by the touches between (one touch gets 100 %, two get 50/50).

Markov model
    Paths become chains ``start → s1 → … → sn → conversion | null`` where consecutive
    repeats of a touch are collapsed; with ``order = k`` a state is the tuple of the last k
    touches (fewer at the start of a path). Transition probabilities are the observed
    transition counts normalised per state. P(conversion) is the absorption probability in
    ``conversion`` from ``start``, solved exactly ((I − Q) x = R with numpy). Removing a
    channel c sends every transition into a state that contains c to ``null``;
    ``removal_effect(c) = 1 − P(conversion | c removed) / P(conversion)``. The converting
    paths' conversions (and value) are shared between channels in proportion to their
    removal effects.

Value: each conversion's ``value`` (null = 0) is shared exactly like the conversion.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

from ..errors import AnalysisError
from ._common import JOURNEY, choice, json_ready, parse_duration
from .journey_codes import use_codes

__all__ = ["AttributionResult", "attribution", "Path", "load_paths", "heuristic_credit",
           "markov_removal_effects", "transition_counts", "removal_effects", "MODELS", "TOUCHES", "NO_TOUCH"]

MODELS = ("markov", "first", "last", "linear", "time_decay", "position")
TOUCHES = ("channel", "touchpoint", "campaign")
#: the row that receives the conversions without any touch in their window.
NO_TOUCH = "(none)"

_TOUCH_SQL = {
    "channel": "channel",
    "touchpoint": "touchpoint",
    "campaign": "json_extract_string(properties, '$.campaign')",
}


@dataclass(frozen=True)
class Path:
    """One path: its touches (oldest first) with their times, and its conversion if any."""

    touches: tuple[str, ...]
    times: tuple[dt.datetime, ...]
    converted: bool
    conversion_time: dt.datetime | None = None
    value: float = 0.0


@dataclass
class AttributionResult:
    model: str
    touch: str
    lookback_seconds: float
    conversions: int
    value: float
    #: [{"channel", "conversions", "value", "removal_effect"?}], most credited first.
    channels: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"model": self.model, "touch": self.touch, "lookback_seconds": self.lookback_seconds,
                "conversions": self.conversions, "value": self.value, "channels": self.channels}

    def to_frame(self) -> pd.DataFrame:
        cols = ["channel", "conversions", "value"] + (["removal_effect"] if self.model == "markov" else [])
        return pd.DataFrame(self.channels, columns=cols)


# -- paths --------------------------------------------------------------------------------
def _touches_sql(touch: str) -> str:
    """CTEs ``conv`` (one row per conversion), ``t`` (its touches, or a non-converting path's,
    ``conv_ts`` null) keyed by (person_id, k), and ``totals`` (all conversions and their
    value; those without any touch); parameters: conversion, look-back (µs)."""
    return f"""
        WITH ev AS (
            SELECT person_id, "timestamp" AS ts, seq, event = ? AS is_conv,
                   coalesce(value, 0) AS value, {_TOUCH_SQL[touch]} AS touch
            FROM {JOURNEY} WHERE person_id IS NOT NULL),
        g AS (
            SELECT *, sum(CAST(is_conv AS INTEGER)) OVER (
                       PARTITION BY person_id ORDER BY ts, seq ROWS UNBOUNDED PRECEDING)
                   - CAST(is_conv AS INTEGER) AS k
            FROM ev),
        conv AS (SELECT person_id, k, ts AS conv_ts, value FROM g WHERE is_conv),
        tt AS (SELECT person_id, k, ts, seq, touch FROM g WHERE NOT is_conv AND touch IS NOT NULL),
        ends AS (SELECT person_id, k, max(ts) AS last_ts FROM tt GROUP BY ALL),
        t AS (
            SELECT tt.person_id, tt.k, tt.ts, tt.seq, tt.touch, c.conv_ts, c.value
            FROM tt JOIN ends e USING (person_id, k) LEFT JOIN conv c USING (person_id, k)
            WHERE epoch_us(coalesce(c.conv_ts, e.last_ts)) - epoch_us(tt.ts) <= ?),
        totals AS (
            SELECT count(*) AS n, coalesce(sum(value), 0) AS v,
                   count(*) FILTER (WHERE touched IS NULL) AS bare_n,
                   coalesce(sum(value) FILTER (WHERE touched IS NULL), 0) AS bare_v
            FROM conv LEFT JOIN (SELECT DISTINCT person_id, k, TRUE AS touched FROM t) USING (person_id, k))"""


def _params(conversion: str, lookback) -> list:
    return [conversion, int(parse_duration(lookback).total_seconds() * 1_000_000)]


def load_paths(store, conversion: str = "purchase", touch: str = "channel",
               lookback="30d") -> list[Path]:
    """The converting and non-converting paths of ``journey_view`` (see the module doc).

    One Python object per path: for tests and small data; :func:`attribution` aggregates in
    the database instead.
    """
    choice("touch", touch, TOUCHES)
    sql = _touches_sql(touch) + """
        SELECT person_id, k, ts, touch, conv_ts, value, FALSE AS is_conv, seq FROM t
        UNION ALL
        SELECT person_id, k, conv_ts, NULL, conv_ts, value, TRUE, NULL FROM conv
        ORDER BY person_id, k, is_conv, ts, seq"""
    rows = store.fetch(sql, _params(conversion, lookback))
    paths: list[Path] = []
    touches: list[str] = []
    times: list[dt.datetime] = []
    key = None
    conv: tuple | None = None

    def flush():
        if conv is not None:
            paths.append(Path(tuple(touches), tuple(times), True, conv[0], float(conv[1])))
        elif touches:
            paths.append(Path(tuple(touches), tuple(times), False))

    for person, k, ts, t, conv_ts, value, is_conv, _seq in rows:
        if (person, k) != key:
            if key is not None:
                flush()
            key, touches, times, conv = (person, k), [], [], None
        if is_conv:
            conv = (conv_ts, value)
        else:
            touches.append(t)
            times.append(ts)
    if key is not None:
        flush()
    return paths


# -- heuristics ---------------------------------------------------------------------------
def heuristic_credit(path: Path, model: str, half_life: dt.timedelta) -> list[float]:
    """The share of ``path``'s conversion each of its touches gets (they sum to 1)."""
    n = len(path.touches)
    if n == 0:
        return []
    if model == "first":
        return [1.0] + [0.0] * (n - 1)
    if model == "last":
        return [0.0] * (n - 1) + [1.0]
    if model == "linear":
        return [1.0 / n] * n
    if model == "position":
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    if model == "time_decay":
        hl = half_life.total_seconds()
        ages = np.array([(path.conversion_time - t).total_seconds() for t in path.times])
        # subtract the smallest exponent first: 2^-(Δt/h) can underflow for old touches.
        e = -(ages / hl)
        w = np.exp2(e - e.max())
        return list(w / w.sum())
    raise AnalysisError(f"model must be one of {', '.join(MODELS)}, not {model!r}")


# -- Markov -------------------------------------------------------------------------------
START, CONV, NULL = ("<start>",), ("<conversion>",), ("<null>",)


def _collapse(touches) -> list:
    out = []
    for t in touches:
        if not out or out[-1] != t:
            out.append(t)
    return out


def _states(touches, order: int) -> list[tuple]:
    seq = _collapse(touches)
    return [tuple(seq[max(0, i - order + 1): i + 1]) for i in range(len(seq))]


def transition_counts(paths: list[Path], order: int = 1) -> dict[tuple, dict[tuple, int]]:
    """{state: {next state: count}} of the chains ``start → states → conversion | null``."""
    counts: dict[tuple, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    for p in paths:
        if not p.touches:
            continue
        chain = [START, *_states(p.touches, order), CONV if p.converted else NULL]
        for a, b in zip(chain, chain[1:]):
            counts[a][b] += 1
    return counts


def _sql_transition_counts(store, conversion: str, touch: str, lookback, order: int) -> tuple[dict, tuple]:
    """The same counts as :func:`transition_counts` over :func:`load_paths`, in the database;
    and the conversions' totals (as :func:`_sql_heuristic_credit`), from the same scan."""
    lags = ", ".join([f"lag(touch, {j}) OVER p" for j in range(order - 1, 0, -1)] + ["touch"])
    sql = _touches_sql(touch) + f""",
        c AS (SELECT *, lag(touch) OVER p AS prev FROM t
              WINDOW p AS (PARTITION BY person_id, k ORDER BY ts, seq)),
        cc AS (SELECT person_id, k, ts, seq, touch, conv_ts IS NOT NULL AS converted FROM c
               WHERE prev IS NULL OR prev <> touch),
        s AS (SELECT person_id, k, converted,
                     list_filter([{lags}], lambda v: v IS NOT NULL) AS state,
                     row_number() OVER p AS i, count(*) OVER (PARTITION BY person_id, k) AS n
              FROM cc WINDOW p AS (PARTITION BY person_id, k ORDER BY ts, seq)),
        tr AS (SELECT lag(state) OVER (PARTITION BY person_id, k ORDER BY i) AS src, state AS dst, 0 AS kind
               FROM s
               UNION ALL
               SELECT state, NULL, CASE WHEN converted THEN 1 ELSE 2 END FROM s WHERE i = n)
        SELECT src, dst, kind, CAST(count(*) AS DOUBLE), NULL FROM tr GROUP BY ALL
        UNION ALL SELECT NULL, NULL, 3, n, v FROM totals
        UNION ALL SELECT NULL, NULL, 4, bare_n, bare_v FROM totals"""
    counts: dict[tuple, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    totals = {}
    for src, dst, kind, n, v in store.fetch(sql, _params(conversion, lookback)):
        if kind >= 3:
            totals[kind] = (int(n), float(v))
            continue
        a = START if src is None else tuple(src)
        b = tuple(dst) if kind == 0 else (CONV if kind == 1 else NULL)
        counts[a][b] += int(n)
    return counts, (*totals[3], *totals[4])


def removal_effects(counts: dict[tuple, dict[tuple, int]]) -> tuple[float, dict[str, float]]:
    """P(conversion) of the chain and each channel's removal effect, solved exactly."""
    if not counts:
        return 0.0, {}
    transient = sorted(counts, key=repr)
    index = {s: i for i, s in enumerate(transient)}
    channels = {c for s in transient if s != START for c in s}
    n = len(transient)
    rows, cols, probs = [], [], []
    R = np.zeros(n)
    for s, outs in counts.items():
        total = sum(outs.values())
        for t, c in outs.items():
            if t == CONV:
                R[index[s]] += c / total
            elif t != NULL:
                rows.append(index[s])
                cols.append(index[t])
                probs.append(c / total)
    # sparse: a chain of order k over many touchpoints has thousands of states, few transitions each
    Q = sparse.csr_matrix((probs, (rows, cols)), shape=(n, n))

    def p_conv(keep: np.ndarray) -> float:
        kept = np.flatnonzero(keep)
        Qk = Q[kept][:, kept]
        x = sparse_linalg.spsolve(sparse.identity(len(kept), format="csc") - Qk.tocsc(), R[kept])
        return float(np.atleast_1d(x)[int(np.searchsorted(kept, index[START]))])

    base = p_conv(np.ones(n, dtype=bool))
    effects = {}
    for c in sorted(channels):
        keep = np.array([s == START or c not in s for s in transient])
        effects[c] = 0.0 if base == 0 else 1.0 - p_conv(keep) / base
    return base, effects


def markov_removal_effects(paths: list[Path], order: int = 1) -> tuple[float, dict[str, float]]:
    """P(conversion) of the chain built from ``paths`` and each channel's removal effect."""
    return removal_effects(transition_counts(paths, order))


# -- heuristics in the database ----------------------------------------------------------------
_WEIGHT_SQL = {
    "first": "CASE WHEN i = 1 THEN 1.0 ELSE 0.0 END",
    "last": "CASE WHEN i = n THEN 1.0 ELSE 0.0 END",
    "linear": "1.0 / n",
    "position": "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END",
    # normalised below; the largest exponent is subtracted so old touches do not underflow.
    "time_decay": "pow(2.0, e - max(e) OVER (PARTITION BY person_id, k))",
}


def _sql_heuristic_credit(store, conversion: str, touch: str, lookback, model: str, half_life) -> tuple[list, tuple]:
    """[(touch, conversions, value)] credited by a heuristic model, as :func:`heuristic_credit`;
    and (conversions, their value, conversions without touch, their value)."""
    hl_us = parse_duration(half_life).total_seconds() * 1_000_000
    sql = _touches_sql(touch) + f""",
        w AS (SELECT touch, value, row_number() OVER q AS i, count(*) OVER q2 AS n,
                     -(epoch_us(conv_ts) - epoch_us(ts)) / {hl_us!r} AS e, person_id, k
              FROM t WHERE conv_ts IS NOT NULL
              WINDOW q AS (PARTITION BY person_id, k ORDER BY ts, seq), q2 AS (PARTITION BY person_id, k)),
        x AS (SELECT touch, value, {_WEIGHT_SQL[model]} AS w,
                     person_id, k FROM w),
        y AS (SELECT touch, value, w / sum(w) OVER (PARTITION BY person_id, k) AS w FROM x)
        SELECT touch, sum(w), sum(w * value), 0 FROM y GROUP BY touch
        UNION ALL SELECT NULL, n, v, 1 FROM totals
        UNION ALL SELECT NULL, bare_n, bare_v, 2 FROM totals"""
    rows = store.fetch(sql, _params(conversion, lookback))
    totals = {kind: (int(n), float(v)) for _, n, v, kind in rows if kind}
    return [r[:3] for r in rows if not r[3]], (*totals[1], *totals[2])


# -- the analysis ------------------------------------------------------------------------
def attribution(store, conversion: str = "purchase", touch: str = "channel", model: str = "markov",
                lookback="30d", order: int = 1, half_life="7d", engine: str = "auto") -> AttributionResult:
    """Conversions and value credited to each touch value by ``model`` (see the module doc).

    ``engine``: ``codes`` reads journey_events in numpy (:mod:`.attribution_codes`; not for
    campaigns, which live in the events' properties), ``portable`` runs SQL over
    journey_view; ``auto`` takes the first when it can.
    """
    choice("model", model, MODELS)
    choice("touch", touch, TOUCHES)
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise AnalysisError(f"order must be a whole number >= 1, not {order!r}")
    hl = parse_duration(half_life)
    lb = parse_duration(lookback)
    if engine == "codes" and touch == "campaign":
        raise AnalysisError("engine='codes' cannot read campaigns (event properties): use auto or portable")
    from . import attribution_codes

    fast = use_codes(store, engine) and touch in attribution_codes.TOUCH_COLUMNS
    conv = defaultdict(float)
    value = defaultdict(float)
    effects: dict[str, float] = {}
    if model == "markov":
        got = attribution_codes.transition_counts(store, conversion, touch, lb, order) if fast else None
        if got is None:
            got = _sql_transition_counts(store, conversion, touch, lb, order)
        counts, (n_conv, v_conv, bare_n, bare_v) = got
        _, effects = removal_effects(counts)
        total_c, total_v = n_conv - bare_n, v_conv - bare_v
        s = sum(effects.values())
        for c, e in effects.items():
            share = e / s if s > 0 else 0.0
            conv[c] += share * total_c
            value[c] += share * total_v
    else:
        credit_of = attribution_codes.heuristic_credit if fast else _sql_heuristic_credit
        credit, (n_conv, v_conv, bare_n, bare_v) = credit_of(store, conversion, touch, lb, model, hl)
        for c, n, v in credit:
            conv[c] += n
            value[c] += v
    if bare_n:
        conv[NO_TOUCH] += bare_n
        value[NO_TOUCH] += bare_v
    rows = []
    for c in conv:
        row = {"channel": c, "conversions": json_ready(conv[c]), "value": json_ready(value[c])}
        if model == "markov":
            row["removal_effect"] = json_ready(effects.get(c))
        rows.append(row)
    rows.sort(key=lambda r: (-r["conversions"], -r["value"], r["channel"]))
    return AttributionResult(model, touch, lb.total_seconds(), n_conv, v_conv, rows)
