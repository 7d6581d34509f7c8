"""Attribution over ``journey_events`` codes in numpy: the same numbers as the SQL over
``journey_view`` (:mod:`.attribution`), without the view's joins and windows.

The rows come back in (person, time, import order) order (:func:`journey_codes.fetch_ordered`),
so a path is a run of rows: it starts at a person's first row or after a conversion, and a
conversion row closes it. Every step below is a vectorised pass over those runs; names are
looked up only for the aggregated rows. Campaigns live in the events' properties, which
``journey_events`` does not carry: ``touch="campaign"`` always takes the SQL path.
"""

from __future__ import annotations

import numpy as np

from . import journey_codes as jc
from ._common import parse_duration

#: touch -> the journey_events column of its code.
TOUCH_COLUMNS = {"channel": "channel_code", "touchpoint": "touchpoint_code"}


class _Paths:
    """The kept touches of every path (rows in path order) and each path's conversion."""

    def __init__(self, store, conversion: str, touch: str, lookback):
        lb_us = int(parse_duration(lookback).total_seconds() * 1_000_000)  # as the SQL's parameter
        conv_code = jc.codes(store, "event").get(conversion, -2)
        a = jc.fetch_ordered(store, "person_key", {
            "ts": "ts", "ev": "event_code", "tc": TOUCH_COLUMNS[touch], "val": "coalesce(value, 0)"})
        g, ts, ev, tc, val = (np.asarray(a[c]) for c in ("g", "ts", "ev", "tc", "val"))
        is_conv = ev == conv_code
        start = jc.group_starts(g)
        start[1:] |= is_conv[:-1]
        pid = np.cumsum(start) - 1
        n_paths = int(pid[-1]) + 1 if len(pid) else 0
        self.has_conv = np.zeros(n_paths, dtype=bool)
        self.has_conv[pid[is_conv]] = True
        self.conv_ts = np.zeros(n_paths, dtype=np.int64)
        self.conv_ts[pid[is_conv]] = ts[is_conv]
        self.conv_val = np.zeros(n_paths)
        self.conv_val[pid[is_conv]] = val[is_conv].astype(float)
        touch_rows = ~is_conv & (tc >= 0)
        tp, tts = pid[touch_rows], ts[touch_rows]
        last = np.r_[tp[1:] != tp[:-1], True] if len(tp) else np.zeros(0, dtype=bool)
        last_touch = np.zeros(n_paths, dtype=np.int64)
        last_touch[tp[last]] = tts[last]  # rows are in time order: a path's last touch row
        end = np.where(self.has_conv, self.conv_ts, last_touch)
        keep = touch_rows & (end[pid] - ts <= lb_us)
        self.pid, self.touch, self.ts = pid[keep], tc[keep].astype(np.int64), ts[keep]
        self.names = jc.names(store, touch)

    def totals(self) -> tuple[int, float, int, float]:
        touched = np.zeros(len(self.has_conv), dtype=bool)
        touched[self.pid] = True
        bare = self.has_conv & ~touched
        return (int(self.has_conv.sum()), float(self.conv_val[self.has_conv].sum()),
                int(bare.sum()), float(self.conv_val[bare].sum()))

    def name(self, code: int) -> str:
        return self.names[int(code) + 1]


def _position_in_run(run: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index within its run, run length, start offsets) for rows sorted by run id."""
    first = jc.group_starts(run)
    starts = np.flatnonzero(first)
    lengths = np.diff(np.r_[starts, len(run)])
    at = np.repeat(starts, lengths)
    return np.arange(len(run)) - at, np.repeat(lengths, lengths), starts


def heuristic_credit(store, conversion: str, touch: str, lookback, model: str, half_life) -> tuple[list, tuple]:
    """As :func:`attribution._sql_heuristic_credit`: [(touch, conversions, value)] and totals."""
    p = _Paths(store, conversion, touch, lookback)
    m = p.has_conv[p.pid]
    run, codes_, ts = p.pid[m], p.touch[m], p.ts[m]
    if len(run) == 0:
        return [], p.totals()
    i, n, starts = _position_in_run(run)
    if model == "first":
        w = (i == 0).astype(float)
    elif model == "last":
        w = (i == n - 1).astype(float)
    elif model == "linear":
        w = 1.0 / n
    elif model == "position":
        middle = 0.2 / np.maximum(n - 2, 1)
        w = np.where(n == 1, 1.0, np.where(n == 2, 0.5, np.where((i == 0) | (i == n - 1), 0.4, middle)))
    else:  # time_decay, the largest exponent subtracted per path so old touches do not underflow
        hl_us = parse_duration(half_life).total_seconds() * 1_000_000
        e = -(p.conv_ts[run] - ts) / hl_us
        e = e - np.repeat(np.maximum.reduceat(e, starts), np.diff(np.r_[starts, len(run)]))
        x = np.exp2(e)
        w = x / np.repeat(np.add.reduceat(x, starts), np.diff(np.r_[starts, len(run)]))
    present, credit = jc.count(codes_, w)
    _, value = jc.count(codes_, w * p.conv_val[run])
    return [(p.name(c), float(cr), float(v)) for c, cr, v in zip(present, credit, value)], p.totals()


START, CONV, NULL = -1, -2, -3


def transition_counts(store, conversion: str, touch: str, lookback, order: int) -> tuple[dict, tuple] | None:
    """As :func:`attribution._sql_transition_counts`; None when the states do not fit in int64."""
    p = _Paths(store, conversion, touch, lookback)
    base = len(p.names) + 1
    if order * np.log2(base) > 62:
        return None
    run, codes_ = p.pid, p.touch
    if len(run) == 0:
        return {}, p.totals()
    # collapse consecutive repeats within a path
    first = jc.group_starts(run)
    keep = first.copy()
    keep[1:] |= codes_[1:] != codes_[:-1]
    run, codes_ = run[keep], codes_[keep]
    first = jc.group_starts(run)
    i, _, _ = _position_in_run(run)
    # a state is the last `order` touches of the path, newest in the lowest digit (0 = none)
    state = np.zeros(len(run), dtype=np.int64)
    for lag in range(order):
        shifted = np.zeros(len(run), dtype=np.int64)
        if lag < len(run):
            shifted[lag:] = codes_[: len(run) - lag] + 1
        state += np.where(i >= lag, shifted, 0) * base ** lag
    src = np.where(first, START, np.r_[START, state[:-1]])
    last = np.r_[first[1:], True]
    end_src = state[last]
    end_dst = np.where(p.has_conv[run[last]], CONV, NULL)
    pairs = np.column_stack([np.r_[src, end_src], np.r_[state, end_dst]])
    counts: dict = {}
    if len(pairs):
        uniq, n = np.unique(pairs, axis=0, return_counts=True)
        for (a, b), c in zip(uniq.tolist(), n.tolist()):
            counts.setdefault(_decode(a, base, p), {})[_decode(b, base, p)] = c
    return counts, p.totals()


def _decode(state: int, base: int, p: _Paths) -> tuple:
    from .attribution import CONV as C, NULL as N, START as S

    if state < 0:
        return {START: S, CONV: C, NULL: N}[state]
    digits = []
    while state:
        state, d = divmod(state, base)
        digits.append(p.name(d - 1))
    return tuple(reversed(digits))
