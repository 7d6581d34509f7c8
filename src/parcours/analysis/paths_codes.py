"""Paths over ``journey_events`` codes, in numpy: the fast twin of :mod:`.paths`.

Rows come back from DuckDB as two or three integer columns already in (customer, time)
order (``journey_codes.fetch_ordered``), so every part of the result is a shift of
adjacent rows: a transition is ``item[i] -> item[i + 1]`` where ``who[i] == who[i + 1]``,
counted with ``np.bincount``; a position is the row number minus the customer's first row.
"Distinct customers" is a stable sort by the counted value (radix for small codes) that
keeps each value's rows in customer order, so equal (customer, value) rows are adjacent.
Codes become names only on the aggregated rows. The semantics are those of ``paths``
(``docs/analyses.md``); tests check both engines give the same result.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import journey_codes as jc
from .paths import MATRIX_DEPTH, PathsResult


def paths_from_codes(store, by, start, end, depth, min_share, top, conversion_event, who,
                     since, until) -> PathsResult:
    """The same result as ``paths(...)`` (arguments already validated there)."""
    cols = {"x": jc.DIMS[by][3]}
    if by != "stage":
        cols["stage"] = "stage"
    if by != "event":
        cols["e"] = "event_code"
    d = jc.fetch_ordered(store, jc.WHO[who], cols, jc.time_filter(since, until))
    g, x = d["g"], d["x"]
    stage, event = d.get("stage", x), d.get("e", x)
    label = jc.names(store, by)
    result = PathsResult(by=by, customers=0)
    result.backward_moves = _backward_moves(g, stage, jc.names(store, "stage"))
    conv = jc.codes(store, "event").get(conversion_event)
    buyers = np.unique(g[event == conv]) if conv is not None else np.zeros(0, g.dtype)
    del d, stage, event

    sg, sx = _items(g, x, by)
    del g, x
    sg, sx, k = _trimmed(sg, sx, jc.codes(store, by), start, end)
    total = int(jc.group_starts(sg).sum())
    result.customers = total
    if not total:
        return result
    size = len(label)
    shown = slice(None) if depth is None else k < depth
    result.transitions = _transitions(sg[shown], sx[shown], size, label, min_share * total)
    head = k < (depth or MATRIX_DEPTH)
    result.step_matrix = _step_matrix(sx[head], k[head], size, label, total)
    result.flows = _flows(sg[head], sx[head], k[head], size, label, min_share * total)
    del head, shown
    cg, cx = _collapse(sg, sx)
    del sg, sx, k
    result.loops = _loops(cg, cx, label)
    if depth is not None:
        ck = _positions(cg)[1]
        cg, cx = cg[ck < depth], cx[ck < depth]
    result.variants = _variants(cg, cx, buyers, label, total, min_share, top)
    return result


def transitions_from_codes(store, by, min_share, who, since, until) -> PathsResult:
    """The same result as ``transitions(...)``: customers and transitions only.

    On the clustered table, slices of persons are read and counted on threads and their
    dense counts added; otherwise one read, counted in slices (:func:`_pair_counts`)."""
    label = jc.names(store, by)
    size, cols, where = len(label), {"x": jc.DIMS[by][3]}, jc.time_filter(since, until)

    def part(keys, con):
        d = jc.fetch_ordered(store, "person_key", cols, where, keys, con)
        g, x = _items(d["g"], d["x"], by)
        return int(jc.group_starts(g).sum()), *_dense_pair_counts(g, x, size)

    parts = jc.map_key_ranges(store, part) if who == "person_id" and size * size < 1 << 24 else None
    if parts is None:
        d = jc.fetch_ordered(store, jc.WHO[who], cols, where)
        g, x = _items(d["g"], d["x"], by)
        del d
        total = int(jc.group_starts(g).sum())
        values, counts, people = _pair_counts(g, x, size)
    else:
        total = sum(p[0] for p in parts)
        counts, people = sum(p[1] for p in parts), sum(p[2] for p in parts)
        values = np.flatnonzero(counts[:size * size])
        counts, people = counts[values], people[values]
    return PathsResult(by=by, customers=total,
                       transitions=_transition_rows(values, counts, people, size, label, min_share * total))


# -- sequences ---------------------------------------------------------------------------


def _positions(g):
    """(group number, 0-based position in the group) of each row."""
    first = jc.group_starts(g)
    gid = np.cumsum(first) - 1
    return gid, np.arange(len(g)) - np.flatnonzero(first)[gid]


def _items(g, x, by):
    """The rows that have an item (code >= 0), stages collapsed to their changes."""
    if len(x) and x.min() < 0:
        keep = x >= 0
        g, x = g[keep], x[keep]
    return _collapse(g, x) if by == "stage" else (g, x)


def _collapse(g, x):
    """Drop an item equal to the one just before it in the same journey (a a b a -> a b a)."""
    keep = jc.group_starts(g)
    if len(x):
        keep[1:] |= x[1:] != x[:-1]
    return g[keep], x[keep]


def _first_k(gid, k, hits, n_groups, missing):
    """Per group, the position of its first hit row (``missing`` when it has none)."""
    out = np.full(n_groups, missing, dtype=np.int64)
    rows = np.flatnonzero(hits)
    rows = rows[jc.group_starts(gid[rows])]
    out[gid[rows]] = k[rows]
    return out


def _trimmed(g, x, codes, start, end):
    """start/end applied as in ``paths._trimmed``: (who, item, k) of the kept rows."""
    gid, k = _positions(g)
    n_groups = int(gid[-1]) + 1 if len(gid) else 0
    if start is not None:
        first = _first_k(gid, k, x == codes.get(start, -2), n_groups, -1)[gid]
        keep = (first >= 0) & (k >= first)
        g, x, k, gid = g[keep], x[keep], (k - first)[keep], gid[keep]
    if end is not None:
        hits = (x == codes.get(end, -2)) & ((k > 0) if start is not None else True)
        last = _first_k(gid, k, hits, n_groups, np.iinfo(np.int64).max)[gid]
        keep = k <= last
        g, x, k = g[keep], x[keep], k[keep]
    return g, x, k


def _pairs(g, x):
    """Rows of consecutive pairs in the same journey: (who, from, to, row of from)."""
    same = np.flatnonzero(g[1:] == g[:-1])
    return g[same], x[same].astype(np.int64), x[same + 1].astype(np.int64), same


# -- parts of the result -----------------------------------------------------------------


def _pair_counts(g, x, size):
    """(pair codes from * size + to, pairs, distinct customers) of consecutive items.

    Pairs across two customers get a code of their own (``size * size``), dropped at the
    end: cheaper than compressing the arrays first. Slices of customers are counted on
    threads and their dense counts added.
    """
    if len(x) < 2:
        return (np.zeros(0, np.int64),) * 3
    across = size * size
    if across + 1 >= 1 << 24:  # too many codes for dense counts: one pass, sparse counts
        return _pair_counts_sparse(g, x, size)

    parts = jc.map_customers(lambda rows: _dense_pair_counts(g[rows], x[rows], size), g)
    counts, people = (sum(c) for c in zip(*parts))
    values = np.flatnonzero(counts[:across])
    return values, counts[values], people[values]


def _dense_pair_counts(g, x, size):
    """(pairs, distinct customers) per pair code as dense arrays of ``size * size + 1``, the
    last for pairs across two customers; for adding up over slices of customers."""
    across = size * size
    if len(x) < 2:
        return np.zeros(across + 1, np.int64), np.zeros(across + 1, np.int64)
    pair = _pair_codes(g, x, size)
    key = np.sort(g[:-1].astype(np.int64) * (across + 1) + pair, kind="stable")  # by customer, then pair
    distinct = key[jc.group_starts(key)] % (across + 1)
    return np.bincount(pair, minlength=across + 1), np.bincount(distinct, minlength=across + 1)


def _pair_codes(g, x, size):
    """from * size + to for each row and the next; ``size * size`` where the customer changes."""
    wide = np.int64 if size * size + 1 >= 1 << 31 else np.int32
    pair = x[:-1].astype(wide) * size + x[1:]
    pair[g[1:] != g[:-1]] = size * size
    return pair


def _pair_counts_sparse(g, x, size):
    pair = _pair_codes(g, x, size)
    values, counts = jc.count(pair)
    people = jc.count(jc.runs_per_value(g[:-1], pair)[0])[1]  # same distinct values, same order
    real = values < size * size
    return values[real], counts[real], people[real]


def _transitions(g, x, size, label, least):
    return _transition_rows(*_pair_counts(g, x, size), size, label, least)


def _transition_rows(values, counts, people, size, label, least):
    rows = [{"from": label[v // size + 1], "to": label[v % size + 1], "count": int(n), "customers": int(c)}
            for v, n, c in zip(values.tolist(), counts.tolist(), people.tolist()) if c >= least]
    return sorted(rows, key=lambda r: (-r["count"], r["from"], r["to"]))


def _step_matrix(x, k, size, label, total):
    values, counts = jc.count(k * size + x)  # one row per (customer, step)
    rows = [{"step": v // size, "item": label[v % size + 1], "customers": int(c), "share": c / total}
            for v, c in zip(values.tolist(), counts.tolist())]
    return sorted(rows, key=lambda r: (r["step"], -r["customers"], r["item"]))


def _flows(g, x, k, size, label, least):
    _, a, b, rows = _pairs(g, x)
    values, counts = jc.count((k[rows] * size + a) * size + b)  # one pair per (customer, step)
    out = [{"step": v // (size * size), "from": label[v // size % size + 1], "to": label[v % size + 1],
            "customers": int(c)} for v, c in zip(values.tolist(), counts.tolist()) if c >= least]
    return sorted(out, key=lambda r: (r["step"], -r["customers"], r["from"], r["to"]))


def _loops(g, x, label):
    values, rows = jc.runs_per_value(g, x)
    again = rows >= 2
    items, people = jc.count(values[again])
    returns = jc.count(values[again], weights=(rows - 1)[again])[1]
    out = [{"item": label[v + 1], "customers": int(c), "returns": int(r)}
           for v, c, r in zip(items.tolist(), people.tolist(), returns.tolist())]
    return sorted(out, key=lambda r: (-r["customers"], -r["returns"], r["item"]))


def _variants(g, x, buyers, label, total, min_share, top):
    """Collapsed journeys grouped by their whole sequence (as bytes, grouped by Arrow)."""
    first = np.flatnonzero(jc.group_starts(g))
    offsets = np.r_[first, len(g)].astype(np.int64) * 4
    path = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(first), [None, pa.py_buffer(offsets), pa.py_buffer(x.astype("<i4"))])
    converted = np.isin(g[first], buyers).astype(np.int64)
    agg = pa.table({"path": path, "c": converted}).group_by("path").aggregate([("c", "count"), ("c", "sum")])
    people = agg.column("c_count").to_numpy()
    keep = np.flatnonzero(people >= min_share * total)
    if top <= 0 or len(keep) == 0:
        return []
    if len(keep) > top:  # only the paths that can make the top are turned into names
        floor = np.sort(people[keep])[-top]
        keep = keep[people[keep] >= floor]
    sums = agg.column("c_sum").to_numpy()
    paths = agg.column("path").take(pa.array(keep)).to_pylist()
    rows = []
    for i, raw in zip(keep.tolist(), paths):
        n, conv = int(people[i]), int(sums[i])
        rows.append({"path": [label[c + 1] for c in np.frombuffer(raw, "<i4").tolist()], "customers": n,
                     "share": n / total, "converted": conv, "conversion": conv / n})
    rows.sort(key=lambda r: (-r["customers"], r["path"]))
    return rows[:top]


def _backward_moves(g, stage, label):
    """Stage changes to a lower stage index over the whole journey (not trimmed)."""
    keep = stage >= 0
    cg, cs = _collapse(g[keep], stage[keep]) if not keep.all() else _collapse(g, stage)
    size = len(label)
    values, counts, people = _pair_counts(cg, cs, size)
    rows = [{"from": label[v // size + 1], "to": label[v % size + 1], "count": int(n), "customers": int(c)}
            for v, n, c in zip(values.tolist(), counts.tolist(), people.tolist()) if v % size < v // size]
    return sorted(rows, key=lambda r: (-r["count"], r["from"], r["to"]))
