"""Stage KPIs: the success indicators of each stage of the journey model, measured.

For every stage (in the designed order, ``model.path_order``): reach, events, engagement
(median time in the stage, pages per person, click-through), conversion to the next stage
within the conversion window, repurchase and referral rates, the backward-move rate, the
channel mix, and each KPI declared in ``journey.yaml`` with its value, target and whether it
is met. The exact definitions are in ``docs/kpis.md``.

Two engines give the same numbers. ``portable`` is a handful of grouped SQL queries over
``journey_view`` and ``stage_history``. ``codes`` reads ``journey_events`` (integer codes in
(person, time) order) one slice of whole persons at a time and computes every measure of the
slice in one numpy pass, conversion included (the first later event of the next stage is a
binary search in that stage's row numbers, not a self-join). On 100M events the SQL over the
codes took 92 s and 9.9 GiB, most of it in the conversion's self-join and the GROUP BY
person over every event (``bench/bench_analyses.py``); this pass takes about 9 s and 2 GiB,
and its slices keep memory bounded at any size. Only tallies per (group, stage) and one value per (person, stage), for the median
time in stage, outlive a slice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, attribute_name, json_ready, parse_duration
from .journey_codes import clustered, count, epoch_us, group_starts, names, time_filter, use_codes

__all__ = ["StageKpisResult", "stage_kpis", "METRICS", "NO_CHANNEL"]

#: a channel that is empty in the data, in ``channel_mix`` and in the ``by="channel"`` groups.
NO_CHANNEL = "(none)"

#: ``metric`` name in journey.yaml -> the computed measure that gives its value.
METRICS = {
    "reach": "reach",
    "impressions": "impressions",
    "events": "impressions",
    "ad_impressions": "ad_impressions",
    "time_spent": "median_seconds",
    "median_seconds": "median_seconds",
    "pages_viewed": "pages_per_person",
    "pages_per_person": "pages_per_person",
    "click_through_rate": "click_through",
    "conversion_rate": "conversion",
    "abandonment_rate": "abandonment",
    "repurchase_rate": "repurchase_rate",
    "referral_rate": "referral_rate",
    "backward_rate": "backward_rate",
    "sales": "sales",
}

#: stage columns of the result, in order.
COLUMNS = ["stage", "label", "reach", "impressions", "ad_impressions", "median_seconds",
           "pages_per_person", "click_through", "conversion", "abandonment", "sales",
           "repurchase_rate", "referral_rate", "backward_rate", "channel_mix", "kpis"]

PAGE_EVENTS = ("page_view", "product_view")
CLICK_PAIRS = (("ad_click", "ad_impression"), ("email_click", "email_open"))


@dataclass
class StageKpisResult:
    by: str | None
    lang: str
    conversion_window_seconds: float
    #: one dict per stage, keys as in :data:`COLUMNS`.
    stages: list[dict] = field(default_factory=list)
    #: [{"group": value or None, "stages": [...]}] when ``by`` is given.
    breakdown: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "by": self.by,
            "conversion_window_seconds": self.conversion_window_seconds,
            "stages": self.stages,
            "breakdown": self.breakdown,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per (group, stage); the overall table has group None (and comes first).

        ``channel_mix`` and ``kpis`` stay as Python objects in their columns."""
        rows = [{"group": None, **s} for s in self.stages]
        rows += [{"group": b["group"], **s} for b in self.breakdown for s in b["stages"]]
        return pd.DataFrame(rows, columns=["group", *COLUMNS])

    def stage(self, stage_id: str) -> dict:
        for s in self.stages:
            if s["stage"] == stage_id:
                return s
        raise KeyError(stage_id)


# -- SQL (portable engine) -----------------------------------------------------------------
def _events_sql(by: str | None, since, until) -> tuple[str, list]:
    """``ev``: the events in range with an order number per person and the person's group."""
    where, params = ["person_id IS NOT NULL"], []
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            where.append(f'"timestamp" {op} ?')
            params.append(bound)
    attr = attribute_name(by)
    if by is None:
        grp = "CAST(NULL AS VARCHAR)"
        join = ""
    elif by == "channel":
        grp = (f"coalesce(first_value(j.channel) OVER (PARTITION BY j.person_id "
               f"ORDER BY j.\"timestamp\", j.seq), '{NO_CHANNEL}')")
        join = ""
    elif attr is not None:
        grp = "json_extract_string(c.attributes, ?)"
        params.insert(0, _json_path(attr))
        join = ("LEFT JOIN persons p ON p.person_id = j.person_id "
                "LEFT JOIN customers c ON c.customer_id = p.customer_id")
    else:
        raise AnalysisError(f"by must be channel or attributes.<name>, not {by!r}")
    sql = f"""ev AS (
        SELECT j.person_id, j."timestamp" AS ts, j.event, j.channel, j.stage, {grp} AS grp,
               row_number() OVER (PARTITION BY j.person_id ORDER BY j."timestamp", j.seq) AS ord
        FROM (SELECT * FROM {JOURNEY} WHERE {' AND '.join(where)}) j {join}),
    person_grp AS (SELECT DISTINCT person_id, grp FROM ev)"""
    return sql, params


def _json_path(attr: str) -> str:
    return '$."' + attr.replace('"', '\\"') + '"'


def _q(store, sql: str, params: list) -> pd.DataFrame:
    return store.sql(sql, params).df() if params else store.sql(sql).df()


def _counts(store, ev: str, params: list) -> pd.DataFrame:
    pages = ", ".join(f"'{e}'" for e in PAGE_EVENTS)
    clicks = ", ".join(
        f"count(*) FILTER (WHERE event = '{e}') AS \"{e}\"" for pair in CLICK_PAIRS for e in pair
    )
    sums = ", ".join(f'CAST(sum("{e}") AS BIGINT) AS "{e}"' for pair in CLICK_PAIRS for e in pair)
    # One row per (person, stage) first (a person has one group), then per stage: no
    # DISTINCT aggregate over the events.
    return _q(store, f"""WITH {ev},
        ps AS (SELECT grp, stage, person_id, count(*) AS n,
                      count(*) FILTER (WHERE event IN ({pages})) AS pages,
                      count(*) FILTER (WHERE event = 'purchase') AS sales,
                      count(*) FILTER (WHERE event = 'referral_sent') AS referrals, {clicks}
               FROM ev GROUP BY grp, stage, person_id),
        per AS (SELECT person_id, sum(sales) AS purchases, sum(referrals) AS referrals
                FROM ps GROUP BY person_id)
        SELECT ps.grp, ps.stage, count(*) AS reach, CAST(sum(n) AS BIGINT) AS impressions,
               CAST(sum(pages) AS BIGINT) AS pages, CAST(sum(sales) AS BIGINT) AS sales, {sums},
               count(*) FILTER (WHERE per.purchases >= 1) AS buyers,
               count(*) FILTER (WHERE per.purchases >= 2) AS repeat_buyers,
               count(*) FILTER (WHERE per.referrals >= 1) AS referrers
        FROM ps JOIN per USING (person_id) GROUP BY ps.grp, ps.stage""", params)


def _channels(store, ev: str, params: list) -> pd.DataFrame:
    return _q(store, f"""WITH {ev}
        SELECT grp, stage, coalesce(channel, '{NO_CHANNEL}') AS channel, count(*) AS n
        FROM ev GROUP BY ALL""", params)


def _conversion(store, ev: str, params: list, pairs: list[tuple[str, str]], window_us: int) -> pd.DataFrame:
    """People of each stage with an event of the next stage after their first event in the
    stage and at most ``window`` later."""
    if not pairs:
        return pd.DataFrame(columns=["grp", "stage", "converted"])
    values = ", ".join(f"('{_sql_text(a)}', '{_sql_text(b)}')" for a, b in pairs)
    return _q(store, f"""WITH {ev},
        nxt(stage, next_stage) AS (VALUES {values}),
        firsts AS (SELECT grp, person_id, stage, min(ord) AS o, arg_min(ts, ord) AS t
                   FROM ev GROUP BY grp, person_id, stage)
        SELECT f.grp, f.stage, count(*) AS converted
        FROM firsts f JOIN nxt USING (stage)
        WHERE EXISTS (SELECT 1 FROM ev e WHERE e.person_id = f.person_id
                      AND e.stage = nxt.next_stage AND e.ord > f.o
                      AND e.ts <= f.t + to_microseconds({window_us}))
        GROUP BY f.grp, f.stage""", params)


def _history(store, ev: str, params: list, since, until) -> pd.DataFrame:
    """Median time in the stage and backward-move rate, from ``stage_history``."""
    where, hp = [], []
    if since is not None:
        where.append("entered_at >= ?")
        hp.append(since)
    if until is not None:
        where.append("entered_at < ?")
        hp.append(until)
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    return _q(store, f"""WITH {ev},
        h AS (SELECT p.person_id, ds.id AS stage, h.entered_at, h.left_at,
                     lead(h.move) OVER (PARTITION BY h.person_key ORDER BY h.visit) AS next_move
              FROM stage_history h JOIN persons p USING (person_key)
              JOIN dim_stage ds ON ds.stage = h.stage),
        hv AS (SELECT pg.grp, h.* FROM h JOIN person_grp pg USING (person_id) {cond}),
        per AS (SELECT grp, person_id, stage,
                       sum(epoch(left_at) - epoch(entered_at)) FILTER (WHERE left_at IS NOT NULL) AS secs,
                       bool_or(coalesce(next_move = 'backward', false)) AS back
                FROM hv GROUP BY grp, person_id, stage)
        SELECT grp, stage, median(secs) AS median_seconds, count(*) AS visitors,
               count(*) FILTER (WHERE back) AS backward
        FROM per GROUP BY grp, stage""", params + hp)


def _sql_text(s: str) -> str:
    return s.replace("'", "''")


# -- codes engine: one numpy pass per slice of persons --------------------------------------
#: events read at a time. A slice is a range of person keys, so whole persons; at its peak a
#: slice costs about 60 bytes per event (its columns, row codes and row numbers per stage).
SLICE_EVENTS = 8_000_000
#: above this many keys a tally keeps sparse (key, count) parts instead of a dense array.
DENSE_KEYS = 1 << 22

#: event classes tallied per (group, stage, channel), numbered from 1; 0 is any other event.
_CLASSES = (PAGE_EVENTS, ("purchase",), *((e,) for pair in CLICK_PAIRS for e in pair), ("referral_sent",))
_PURCHASE, _REFERRAL = 2, len(_CLASSES)
#: the tallies per (group, stage) that count persons.
_PERSON_TALLIES = ("reach", "buyers", "repeat_buyers", "referrers", "converted", "visitors", "backward")


class _Tally:
    """Counts per integer key summed over slices: a dense array while the key space is small."""

    def __init__(self, size: int):
        self.size = size
        self.dense = np.zeros(size, np.int64) if size <= DENSE_KEYS else None
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: np.ndarray) -> None:
        if not len(keys):
            return
        if self.dense is not None:
            self.dense += np.bincount(keys, minlength=self.size)
        else:
            self.parts.append(count(keys))

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, counts) of the keys counted at least once, keys ascending."""
        if self.dense is not None:
            keys = np.flatnonzero(self.dense)
            return keys, self.dense[keys]
        if not self.parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        keys, inverse = np.unique(np.concatenate([k for k, _ in self.parts]), return_inverse=True)
        n = np.bincount(inverse, weights=np.concatenate([n for _, n in self.parts]))
        return keys, n.astype(np.int64)


def _index(codes_: np.ndarray, size: int) -> np.ndarray:
    """``code + 1`` as an index into a table of ``size`` (0 for NULL, as fetched: masked);
    codes outside the table also read entry 0, NULL."""
    i = np.ma.filled(codes_, -1).astype(np.int32) + 1
    if len(i) and (i.min() < 0 or i.max() >= size):
        i[(i < 0) | (i >= size)] = 0
    return i


def _median(keys: np.ndarray, values: np.ndarray) -> pd.Series:
    """Median of the values of each key, as DuckDB's ``median`` gives it: the mean of the two
    middle values when their number is even."""
    if not len(keys):
        return pd.Series(dtype=float)
    small = keys.max() < 1 << 15  # numpy sorts int16 by radix, in linear time
    order = np.argsort(keys.astype(np.int16) if small else keys, kind="stable")
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(group_starts(keys))
    out = np.empty(len(starts))
    for i, (a, b) in enumerate(zip(starts, [*starts[1:], len(keys)])):
        n, mid = b - a, (b - a) // 2
        part = np.partition(values[a:b], mid if n % 2 else [mid - 1, mid])
        out[i] = part[mid] if n % 2 else (part[mid - 1] + part[mid]) / 2
    return pd.Series(out, index=keys[starts])


def _slices(store, where: str, kmin: int, kmax: int, n: int, in_order: bool) -> list[tuple[int, int]]:
    """Ranges [a, b) of person keys holding about :data:`SLICE_EVENTS` events each.

    On the clustered table, the keys at every SLICE_EVENTS-th row (a row-id lookup); else
    from a histogram of the keys."""
    if n <= SLICE_EVENTS:
        return [(kmin, kmax + 1)]
    if in_order:
        rows = store.scalar("SELECT count(*) FROM journey_events")
        at = ", ".join(str(r) for r in range(SLICE_EVENTS, rows, SLICE_EVENTS))
        cuts = [k for (k,) in store.fetch(f"SELECT DISTINCT person_key FROM journey_events WHERE rowid IN ({at})")]
    else:
        width = -(-(kmax - kmin + 1) // 4096)
        hist = store.fetch(f"SELECT (person_key - {kmin}) // {width} AS b, count(*) FROM journey_events "
                           f"WHERE {where} GROUP BY 1 ORDER BY 1")
        cuts, acc = [], 0
        for b, c in hist:
            if acc and acc + c > SLICE_EVENTS:
                cuts.append(kmin + int(b) * width)
                acc = 0
            acc += c
    bounds = [kmin, *sorted(int(k) for k in cuts if k is not None and kmin < k <= kmax), kmax + 1]
    return list(zip(bounds, bounds[1:]))


def _attribute_groups(store, attr: str, kmin: int, kmax: int) -> tuple[list, np.ndarray]:
    """(group values, person key - kmin -> group); group 0 is NULL (no customer, no value).

    Dictionary-encoded in Arrow, so there is no Python string per person."""
    import pyarrow.compute as pc

    rows = store.sql(f"""SELECT p.person_key AS k, json_extract_string(c.attributes, ?) AS v
        FROM persons p LEFT JOIN customers c ON c.customer_id = p.customer_id
        WHERE p.person_key BETWEEN {kmin} AND {kmax}""", [_json_path(attr)]).to_arrow_table()
    enc = pc.dictionary_encode(rows.column("v")).combine_chunks()
    group = np.zeros(kmax - kmin + 1, np.int64)
    code = pc.fill_null(pc.add(enc.indices.cast("int64"), 1), 0).to_numpy(zero_copy_only=False)
    group[rows.column("k").to_numpy(zero_copy_only=False) - kmin] = code
    return [None, *enc.dictionary.to_pylist()], group


def _codes_frames(store, by: str | None, lo, hi, order: list[str], window_us: int) -> list[tuple]:
    """The SQL engine's four frames (counts, channels, conversion, history), overall and, when
    ``by`` is given, per group: from journey_events, stage_history and the dim tables.

    Per slice of persons, rows in (person, ts, seq) order: each row's (stage, event class,
    channel) as one small code, through a table built from the dim tables; each person's group
    and purchases; per stage, its rows and each person's first one (reach, buyers, ...); per
    stage and the next, the first later row of the next stage is a ``searchsorted`` in that
    stage's rows, and the person converted when that row is still theirs and in the window.
    """
    dim = store.fetch("SELECT stage, id FROM dim_stage ORDER BY stage")
    ids = [i for _, i in dim] + [None]  # last: a stage code dim_stage lacks (a NULL id)
    S = len(ids)
    stage_lut = np.full(max([c for c, _ in dim], default=-1) + 2, S - 1, np.int64)
    for k, (c, _) in enumerate(dim):
        stage_lut[c + 1] = k
    pairs = [(ids.index(a), ids.index(b)) for a, b in zip(order, order[1:]) if a in ids and b in ids]
    cls_lut = np.array([next((k + 1 for k, c in enumerate(_CLASSES) if n in c), 0)
                        for n in names(store, "event")], np.int64)
    K = len(_CLASSES) + 1
    labels = [NO_CHANNEL if n is None else n for n in names(store, "channel")]
    channels = sorted(set(labels))
    ch_lut = np.array([channels.index(x) for x in labels], np.int64)
    C = len(channels)
    # (stage, event, channel) codes, each + 1 -> (stage index * K + class) * C + channel index
    combo_lut = ((stage_lut[:, None, None] * K + cls_lut[None, :, None]) * C + ch_lut[None, None, :]).ravel()
    combo_lut = combo_lut.astype(np.int32 if S * K * C < 1 << 31 else np.int64)
    stage_of = (np.arange(S * K * C) // (K * C)).astype(np.int8 if S < 128 else np.int64)
    class_of = (np.arange(S * K * C) // C) % K

    times = time_filter(lo, hi)
    where = " AND ".join(["person_key IS NOT NULL", *times])
    kmin, kmax, n_events = store.fetch(
        f"SELECT min(person_key), max(person_key), count(*) FROM journey_events WHERE {where}")[0]
    kmin, kmax = (0, 0) if kmin is None else (int(kmin), int(kmax))
    key_group = None
    if by is None:
        gvals = [None]
    elif by == "channel":
        gvals = channels  # the label of the person's first channel in range
    else:
        gvals, key_group = _attribute_groups(store, attribute_name(by), kmin, kmax)
    G = len(gvals)
    tally = {name: _Tally(G * S) for name in _PERSON_TALLIES}
    events = _Tally(G * S * K * C)
    medians: list[tuple[np.ndarray, np.ndarray]] = []
    in_order = clustered(store)
    sort = "" if in_order else " ORDER BY person_key, ts, seq"

    for a, b in _slices(store, where, kmin, kmax, n_events, in_order) if n_events else []:
        # plain columns: a coalesce() in the SELECT made the fetch twice as slow
        cols = store.sql(f"SELECT person_key, ts, stage, event_code, channel_code FROM journey_events "
                         f"WHERE {where} AND person_key >= {a} AND person_key < {b}{sort}").fetchnumpy()
        g, ts = cols.pop("person_key"), cols.pop("ts")
        if not len(g):
            continue
        starts = group_starts(g)
        person = np.cumsum(starts, dtype=np.int32) - 1  # row -> person of the slice
        first = np.flatnonzero(starts)
        keys = g[first]
        del g, starts
        i = _index(cols.pop("stage"), len(stage_lut))
        i *= len(cls_lut)
        i += _index(cols.pop("event_code"), len(cls_lut))
        i *= len(ch_lut)
        i += _index(cols.pop("channel_code"), len(ch_lut))
        combo = combo_lut[i]
        del i
        if by == "channel":
            grp = combo[first] % C
        elif key_group is not None:
            grp = key_group[keys - kmin]
        else:
            grp = np.zeros(len(first), np.int64)
        events.add(grp[person] * (S * K * C) + combo if G > 1 else combo)
        cls = class_of[combo]
        purchases = np.bincount(person[cls == _PURCHASE], minlength=len(first))
        referrals = np.bincount(person[cls == _REFERRAL], minlength=len(first))
        del cls
        stage = stage_of[combo]
        del combo
        rows_of, firsts = {}, {}
        for k in range(S):
            rows = np.flatnonzero(stage == k)
            if not len(rows):
                continue
            f = rows[group_starts(person[rows])]
            p = person[f]
            key = grp[p] * S + k
            tally["reach"].add(key)
            tally["buyers"].add(key[purchases[p] >= 1])
            tally["repeat_buyers"].add(key[purchases[p] >= 2])
            tally["referrers"].add(key[referrals[p] >= 1])
            rows_of[k], firsts[k] = rows, f
        del stage
        for ka, kb in pairs:
            if ka not in firsts or kb not in rows_of:
                continue
            f, later = firsts[ka], rows_of[kb]
            j = np.searchsorted(later, f, side="right")
            has = j < len(later)
            f, nxt = f[has], later[j[has]]
            ok = (person[nxt] == person[f]) & (ts[nxt] <= ts[f] + window_us)
            tally["converted"].add(grp[person[f[ok]]] * S + ka)
        del rows_of, firsts, person, ts
        medians.append(_history_slice(store, a, b, keys, grp, stage_lut, S, lo, hi, tally))

    mk = np.concatenate([m[0] for m in medians]) if medians else np.zeros(0, np.int64)
    mv = np.concatenate([m[1] for m in medians]) if medians else np.zeros(0)
    out = [_frames([None], ids, channels, tally, events, _median(mk % S, mv), K, fold=True)]
    if by is not None:
        out.append(_frames(gvals, ids, channels, tally, events, _median(mk, mv), K, fold=False))
    return out


def _history_slice(store, a: int, b: int, keys: np.ndarray, grp: np.ndarray, stage_lut: np.ndarray,
                   S: int, lo, hi, tally: dict) -> tuple[np.ndarray, np.ndarray]:
    """Visitors and backward moves of one slice into ``tally``; returns (group * S + stage,
    seconds) per (person, stage) with a closed visit, for the medians.

    As in the SQL: the visits to a stage of dim_stage of the persons with events in range
    (``keys``, sorted), entered in range; the move after a visit is the next visit's, over
    the person's whole history; a person's closed visits to a stage add their seconds in
    visit order, as doubles (DuckDB's ``epoch()`` is µs / 1e6)."""
    h = store.sql(f"""SELECT person_key, visit, stage, epoch_us(entered_at) AS t0, epoch_us(left_at) AS t1,
            move = 'backward' AS back
        FROM stage_history WHERE person_key >= {a} AND person_key < {b}""").fetchnumpy()
    hg = h["person_key"]
    if not len(hg):
        return np.zeros(0, np.int64), np.zeros(0)
    visit = h["visit"]
    if not np.all((hg[1:] > hg[:-1]) | ((hg[1:] == hg[:-1]) & (visit[1:] > visit[:-1]))):
        o = np.lexsort((visit, hg))  # not stored in (person, visit) order
        h = {k: v[o] for k, v in h.items()}
        hg = h["person_key"]
    stage = stage_lut[_index(h["stage"], len(stage_lut))]
    known = stage < S - 1
    if not known.all():  # the SQL joins dim_stage before it takes the next visit's move
        h = {k: v[known] for k, v in h.items()}
        hg, stage = h["person_key"], stage[known]
    t0 = np.ma.filled(h["t0"], 0)
    has_t0 = ~np.ma.getmaskarray(h["t0"])
    then_back = np.zeros(len(hg), bool)
    then_back[:-1] = np.ma.filled(h["back"][1:], False) & (hg[1:] == hg[:-1])
    pos = np.minimum(np.searchsorted(keys, hg), len(keys) - 1)
    keep = keys[pos] == hg
    for bound, inside in ((epoch_us(lo), np.greater_equal), (epoch_us(hi), np.less)):
        if bound is not None:
            keep &= has_t0 & inside(t0, bound)
    closed = keep & has_t0 & ~np.ma.getmaskarray(h["t1"])
    secs = np.ma.filled(h["t1"], 0) / 1e6 - t0 / 1e6
    out_keys, out_secs = [], []
    for k in range(S - 1):  # runs of (person, stage k), each in visit order
        rows = np.flatnonzero(keep & (stage == k))
        if not len(rows):
            continue
        starts = group_starts(pos[rows])
        run = np.cumsum(starts) - 1
        n = int(run[-1]) + 1
        c = closed[rows]
        total = np.bincount(run[c], weights=secs[rows[c]], minlength=n)  # in order, as sum()
        nclosed = np.bincount(run[c], minlength=n)
        back = np.bincount(run[then_back[rows]], minlength=n) > 0
        gkey = grp[pos[rows[starts]]] * S + k
        tally["visitors"].add(gkey)
        tally["backward"].add(gkey[back])
        out_keys.append(gkey[nclosed > 0])
        out_secs.append(total[nclosed > 0])
    if not out_keys:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_keys), np.concatenate(out_secs)


def _frames(gvals: list, ids: list, channels: list, tally: dict, events: _Tally,
            median: pd.Series, K: int, fold: bool) -> tuple:
    """The frames of the SQL engine from the tallies: keys group * S + stage, and for
    ``events`` ((group * S + stage) * K + class) * C + channel. ``fold`` adds the groups up
    into the overall table (group NULL)."""
    S, C = len(ids), len(channels)

    def split(t: _Tally, inner: int = 1):
        keys, n = t.items()
        gs, sub = np.divmod(keys, inner)
        return (gs % S if fold else gs), sub, n

    def per_key(t: _Tally, inner: int = 1, pick=None) -> pd.Series:
        gs, sub, n = split(t, inner)
        if pick is not None:
            m = pick(sub)
            gs, n = gs[m], n[m]
        return pd.Series(n, index=gs, dtype=np.int64).groupby(level=0).sum()

    def frame(gs, **cols) -> pd.DataFrame:
        gs = np.asarray(gs, np.int64)
        return pd.DataFrame({"grp": [None if fold else gvals[k // S] for k in gs],
                             "stage": [ids[k % S] for k in gs], **cols})

    def of_class(k: int):
        return lambda sub: sub // C == k

    reach = per_key(tally["reach"])
    at = reach.index
    counts = frame(at, reach=reach.values, **{
        col: per_key(t, inner, pick).reindex(at, fill_value=0).values for col, t, inner, pick in [
            ("impressions", events, K * C, None),
            ("pages", events, K * C, of_class(1)),
            ("sales", events, K * C, of_class(_PURCHASE)),
            *((e, events, K * C, of_class(_CLASSES.index((e,)) + 1)) for pair in CLICK_PAIRS for e in pair),
            *((c, tally[c], 1, None) for c in ("buyers", "repeat_buyers", "referrers"))]})
    gs, sub, n = split(events, K * C)
    mix = pd.DataFrame({"gs": gs, "channel": np.asarray(channels, object)[sub % C], "n": n})
    mix = mix.groupby(["gs", "channel"], as_index=False).n.sum()
    channel_frame = frame(mix.gs, channel=mix.channel.values, n=mix.n.values)
    converted = per_key(tally["converted"])
    visitors = per_key(tally["visitors"])
    hist = frame(visitors.index, median_seconds=median.reindex(visitors.index).values,
                 visitors=visitors.values,
                 backward=per_key(tally["backward"]).reindex(visitors.index, fill_value=0).values)
    return counts, channel_frame, frame(converted.index, converted=converted.values), hist


# -- assembling ---------------------------------------------------------------------------
def _ratio(num, den):
    return None if not den else num / den


def _met(value, target, direction) -> bool | None:
    if value is None:
        return None
    return bool(value >= target) if direction == "higher" else bool(value <= target)


def _stage_rows(model, order, lang, counts, channels, conv, hist, grp, repurchase_stages, referral_stages):
    def pick(frame, stage):
        if frame.empty:
            return None
        sel = frame[(frame.stage == stage) & (frame.grp.isna() if grp is None else frame.grp == grp)]
        return None if sel.empty else sel.iloc[0]

    rows = []
    for k, sid in enumerate(order):
        c, h, cv = pick(counts, sid), pick(hist, sid), pick(conv, sid)
        reach = int(c.reach) if c is not None else 0
        n = int(c.impressions) if c is not None else 0
        get = (lambda col: int(c[col]) if c is not None else 0)
        ctr = None
        for click, shown in CLICK_PAIRS:
            if get(shown):
                ctr = get(click) / get(shown)
                break
        last = k == len(order) - 1
        conversion = None if last or not reach else (int(cv.converted) if cv is not None else 0) / reach
        mix = {}
        if n:
            sel = channels[(channels.stage == sid) & (channels.grp.isna() if grp is None else channels.grp == grp)]
            mix = {r.channel: int(r.n) / n for r in sel.sort_values(["n", "channel"], ascending=[False, True]).itertuples()}
        row = {
            "stage": sid,
            "label": model.label(sid, lang),
            "reach": reach,
            "impressions": n,
            "ad_impressions": get("ad_impression") if get("ad_impression") else None,
            "median_seconds": json_ready(h.median_seconds) if h is not None else None,
            "pages_per_person": _ratio(get("pages"), reach),
            "click_through": ctr,
            "conversion": conversion,
            "abandonment": None if conversion is None else 1 - conversion,
            "sales": get("sales"),
            "repurchase_rate": _ratio(get("repeat_buyers"), get("buyers")) if sid in repurchase_stages else None,
            "referral_rate": _ratio(get("referrers"), reach) if sid in referral_stages else None,
            "backward_rate": _ratio(int(h.backward), int(h.visitors)) if h is not None else None,
            "channel_mix": mix,
        }
        kpis = []
        for kpi in model.stage(sid).kpis:
            measure = METRICS.get(kpi.metric)
            value = row[measure] if measure else None
            if measure == "impressions" and row["ad_impressions"] is not None:
                value = row["ad_impressions"]
            entry = {"id": kpi.id, "label": kpi.labels.get(lang), "metric": kpi.metric,
                     "value": value, "target": kpi.target, "direction": kpi.direction,
                     "met": _met(value, kpi.target, kpi.direction)}
            if measure is None:
                entry["note"] = f"metric {kpi.metric!r} is not computed from events"
            kpis.append(entry)
        row["kpis"] = kpis
        rows.append(row)
    return rows


def _stages_with(model, event: str, metrics: tuple[str, ...]) -> set[str]:
    """The stage an event of that name is assigned by the rules, and every stage declaring a
    KPI with one of ``metrics``."""
    out = {s.id for s in model.stages if any(k.metric in metrics for k in s.kpis)}
    for rule in model.rules:
        if rule.events is not None and event in rule.events:
            out.add(rule.stage)
    return out


def stage_kpis(store, model, by: str | None = None, since=None, until=None,
               conversion_window=None, *, lang: str = "en", engine: str = "auto") -> StageKpisResult:
    """The success indicators of every stage of ``model``, overall and per group of ``by``.

    ``by``: ``"channel"`` (the person's first-touch channel in the period) or
    ``"attributes.<name>"`` (a customer attribute). ``since``/``until`` restrict the events
    (``since <= timestamp < until``) and the stage visits (by their start).
    ``conversion_window`` defaults to the model's ``conversion_window``. ``engine``:
    ``codes`` reads journey_events and the dictionary tables, ``portable`` journey_view.
    """
    if not store.has_table(JOURNEY):
        raise AnalysisError("no journey tables: run the stage assignment (parcours refresh) first")
    if by is not None and by != "channel" and attribute_name(by) is None:
        raise AnalysisError(f"by must be channel or attributes.<name>, not {by!r}")
    window = model.window if conversion_window is None else parse_duration(conversion_window)
    window_us = int(window / dt.timedelta(microseconds=1))
    lo, hi = as_time(since), as_time(until)
    order = list(model.path_order)
    pairs = list(zip(order, order[1:]))
    repurchase = _stages_with(model, "purchase", ("repurchase_rate", "retention_rate"))
    referral = _stages_with(model, "referral_sent", ("referral_rate",))

    result = StageKpisResult(by, lang, window.total_seconds())
    if use_codes(store, engine):
        frames = _codes_frames(store, by, lo, hi, order, window_us)
    else:
        frames = []
        for spec in [None] + ([by] if by is not None else []):
            ev, params = _events_sql(spec, lo, hi)
            frames.append((_counts(store, ev, params), _channels(store, ev, params),
                           _conversion(store, ev, params, pairs, window_us),
                           _history(store, ev, params, lo, hi)))
    result.stages = _stage_rows(model, order, lang, *frames[0], None, repurchase, referral)
    if by is not None:
        counts = frames[1][0]
        groups = sorted(counts.grp.dropna().unique().tolist())
        for g in groups + ([None] if counts.grp.isna().any() else []):
            result.breakdown.append({"group": g, "stages": _stage_rows(
                model, order, lang, *frames[1], g, repurchase, referral)})
    return result
