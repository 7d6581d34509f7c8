"""Reading ``journey_events`` directly: integer codes in (person, time) order, names once.

``journey_view`` joins every event back to its names, its person and the raw ``events``
table (ids, properties). On 100M events that join costs far more than the analyses
themselves, so the fast paths read the clustered table of codes instead, translate step
names to codes through the small ``dim_*`` tables once, and turn codes back into names only
on the aggregated rows. The portable versions over ``journey_view`` stay beside them, and
tests check both give the same numbers (ARCHITECTURE.md, "Engine").

Tables are always named unqualified, so a segment scope that shadows them with TEMP views
of the same name applies here too; nothing is cached between calls.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._common import as_time

#: item kind -> (dictionary table, its code column, its name column, code column of journey_events)
DIMS = {
    "event": ("dim_event", "code", "name", "event_code"),
    "channel": ("dim_channel", "code", "name", "channel_code"),
    "touchpoint": ("dim_touchpoint", "code", "name", "touchpoint_code"),
    "stage": ("dim_stage", "stage", "id", "stage"),
}
#: journey_view's "who" column -> the integer key of journey_events that stands for it.
WHO = {"person_id": "person_key", "account_id": "account_key"}
_EPOCH = dt.datetime(1970, 1, 1)
_TABLES = ("journey_events", "persons", *(d[0] for d in DIMS.values()))


def available(store) -> bool:
    """True when the journey layer's tables exist (a refreshed store, not a bare view)."""
    return all(store.has_table(t) for t in _TABLES)


def clustered(store) -> bool:
    """True when a plain scan of ``journey_events`` returns rows in (person, ts, seq) order.

    The refresh writes the table ORDER BY person_key, ts, seq, and DuckDB keeps insertion
    order on scans without ORDER BY unless ``preserve_insertion_order`` is off. A view of
    the same name (a segment scope) may join or reorder, so then the caller sorts.
    """
    kinds = store.fetch("SELECT table_type FROM information_schema.tables WHERE table_name = 'journey_events'")
    keep = store.scalar("SELECT current_setting('preserve_insertion_order')")
    return kinds == [("BASE TABLE",)] and bool(keep)


def codes(store, kind: str) -> dict[str, int]:
    """name -> code for one item kind."""
    table, code, name, _ = DIMS[kind]
    return {n: int(c) for c, n in store.fetch(f"SELECT {code}, {name} FROM {table}")}


def names(store, kind: str) -> np.ndarray:
    """An object array indexed by code (code + 1, so that -1, "no code", maps to None)."""
    table, code, name, _ = DIMS[kind]
    rows = store.fetch(f"SELECT {code}, {name} FROM {table}")
    size = max((int(c) for c, _ in rows), default=-1) + 2
    out = np.full(size, None, dtype=object)
    for c, n in rows:
        out[int(c) + 1] = n
    return out


def epoch_us(value) -> int | None:
    """µs since the epoch of a time bound (as :func:`as_time` reads it), None stays None."""
    t = as_time(value)
    return None if t is None else (t - _EPOCH) // dt.timedelta(microseconds=1)


def time_filter(since=None, until=None, column: str = "ts") -> list[str]:
    """SQL conditions ``since <= ts < until`` on epoch µs (empty when unbounded)."""
    out = []
    if (lo := epoch_us(since)) is not None:
        out.append(f"{column} >= {int(lo)}")
    if (hi := epoch_us(until)) is not None:
        out.append(f"{column} < {int(hi)}")
    return out


def fetch_ordered(store, who: str, columns: dict[str, str], where: list[str] = (),
                  keys: tuple[int, int] | None = None, con=None) -> dict[str, np.ndarray]:
    """Columns of journey_events (name -> SQL expression, NULL as -1) in (who, ts, seq) order.

    ``who`` is a key column; rows where it is NULL are left out and it comes back as ``g``.
    The sort is skipped when a plain scan already gives that order (:func:`clustered`).
    ``keys``: only the persons with keys in ``[a, b)``, read on ``con`` (a cursor of another
    thread, see :func:`map_key_ranges`, which has checked the table is clustered).
    """
    conds = [f"{who} IS NOT NULL", *where]
    if keys is not None:
        conds += [f"{who} >= {int(keys[0])}", f"{who} < {int(keys[1])}"]
    cols = ", ".join([f"{who} AS g"] + [f"coalesce({sql}, -1) AS {name}" for name, sql in columns.items()])
    query = f"SELECT {cols} FROM journey_events WHERE {' AND '.join(conds)}"
    run = store.sql if con is None else con.sql
    if who == "person_key" and (con is not None or clustered(store)):
        out = run(query).fetchnumpy()
        g = out["g"]
        # A plan with a join (an IN list, say) may hand blocks back out of turn: then sort.
        if len(g) < 2 or bool((g[1:] >= g[:-1]).all()):
            return out
    return run(f"{query} ORDER BY {who}, ts, seq").fetchnumpy()


def map_key_ranges(store, fn) -> list | None:
    """``fn(keys, con)`` for each range of :func:`key_ranges`, on threads, each with its own
    cursor: DuckDB reads one slice of persons while numpy works on another. None when the
    table is not the clustered one (a segment scope's view) or too small to cut."""
    if not clustered(store):
        return None
    ranges = key_ranges(store)
    if len(ranges) < 2:
        return None

    def one(keys):
        with store.cursor() as con:
            return fn(keys, con)

    return map_threads(one, ranges)


def group_starts(g: np.ndarray) -> np.ndarray:
    """True on the first row of each group (rows sorted by group)."""
    out = np.empty(len(g), dtype=bool)
    if len(g):
        out[0] = True
        np.not_equal(g[1:], g[:-1], out=out[1:])
    return out


#: below this many rows, one thread does the work: splitting would cost more than it saves.
PARALLEL_MIN_ROWS = 1_000_000


def workers() -> int:
    """The cores this process may use (numpy releases the GIL, so threads run side by side)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def customer_slices(g: np.ndarray, parts: int | None = None, min_rows: int | None = None) -> list[slice]:
    """About ``parts`` equal slices of rows sorted by group, cut where the group changes."""
    n, parts = len(g), parts or workers()
    if n < (PARALLEL_MIN_ROWS if min_rows is None else min_rows) or parts < 2:
        return [slice(0, n)]
    cuts = [0]
    for i in range(1, parts):
        c = max(n * i // parts, cuts[-1] + 1)
        step = 1024
        while c < n:  # move on to the first row of the next group
            ahead = np.flatnonzero(g[c:c + step] != g[c - 1])
            if len(ahead):
                c += int(ahead[0])
                break
            c, step = c + step, step * 2
        if c < n:
            cuts.append(c)
    return [slice(a, b) for a, b in zip(cuts, cuts[1:] + [n])]


def map_threads(fn, items: list) -> list:
    """``fn`` over ``items`` on as many threads as cores, results in order."""
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(min(workers(), len(items))) as pool:
        return list(pool.map(fn, items))


#: rows of journey_events per slice of :func:`key_ranges`, at least.
SLICE_MIN_ROWS = 2_000_000
#: slices per core: while DuckDB reads one, numpy works on another.
SLICES_PER_WORKER = 4


def key_ranges(store) -> list[tuple[int, int]]:
    """Ranges ``[a, b)`` of person keys that cut the clustered journey_events into slices of
    about equal rows (several per core), or one range when it is small.

    The table is stored in person order, so the keys at every n-th row id are the cuts (a
    row-id lookup, no scan); the first and last ranges are open."""
    n = store.scalar("SELECT count(*) FROM journey_events") or 0
    size = max(n // (SLICES_PER_WORKER * workers()), SLICE_MIN_ROWS, 1)
    lowest, highest = -(1 << 31), 1 << 31  # person_key is an INTEGER
    if n <= size:
        return [(lowest, highest)]
    at = ", ".join(str(r) for r in range(size, n, size))
    cuts = sorted({int(k) for (k,) in store.fetch(
        f"SELECT DISTINCT person_key FROM journey_events WHERE rowid IN ({at})") if k is not None})
    bounds = [lowest, *cuts, highest]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


def map_customers(fn, g: np.ndarray, min_rows: int | None = None) -> list:
    """``fn(slice)`` on slices of rows that never split a customer, on threads; in order.

    The per-customer work of the fast analyses is numpy calls that release the GIL, so on
    several cores the slices run at the same time: the analyses are independent per customer,
    and their partial results add up.
    """
    return map_threads(fn, customer_slices(g, min_rows=min_rows))


def runs_per_value(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, rows) for each distinct (group, value); rows sorted by group, values >= 0.

    The key group * size + value is already sorted by its group part, so numpy's stable
    sort (timsort) only has short runs to order and merges them almost for free.
    """
    if len(value) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    size = int(value.max()) + 1
    key = np.sort(group.astype(np.int64) * size + value, kind="stable")
    new = np.flatnonzero(group_starts(key))
    return key[new] % size, np.diff(np.r_[new, len(key)])


def count(codes_: np.ndarray, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """(distinct codes, their counts or summed weights), codes ascending, zeros left out."""
    if len(codes_) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if int(codes_.max()) < 1 << 24:  # a dense count is cheaper than sorting
        n = np.bincount(codes_, weights=weights)
        hits = np.bincount(codes_) > 0 if weights is not None else n > 0
        values = np.flatnonzero(hits)
        return values, n[values]
    values, inverse = np.unique(codes_, return_inverse=True)
    return values, np.bincount(inverse, weights=weights)


#: ``engine=`` of the analyses that have both: the fast one when it can run, or one of them.
ENGINES = ("auto", "codes", "portable")


def use_codes(store, engine: str) -> bool:
    """Whether an analysis reads journey_events codes (True) or journey_view (False)."""
    from ..errors import AnalysisError
    from ._common import choice

    choice("engine", engine, ENGINES)
    if engine == "portable":
        return False
    if available(store):
        return True
    if engine == "codes":
        raise AnalysisError("engine='codes' needs the journey tables: run a refresh first")
    return False
