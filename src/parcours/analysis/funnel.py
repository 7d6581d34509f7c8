"""Funnels: how many customers go through a sequence of steps within a conversion window.

How it is computed (semantics in ``docs/analyses.md``):

1. In DuckDB: keep the events that match a step or an exclusion, with one integer of flag
   bits saying which, in (customer, timestamp, seq) order (the stored order of
   ``journey_events``, or sorted through Ibis over ``journey_view``). For ``strict`` order,
   window functions first count, for each event, the customer's events strictly before and
   up to its timestamp, so "was anything in between?" becomes a subtraction.
2. In numpy, over those rows, in slices of customers on threads (numpy releases the GIL):
   every step-1 event starts an attempt; the next step is the first matching event at or
   after the current one (``np.searchsorted`` over the step's sorted positions), so the
   attempts of all customers advance one step at a time together, with no Python loop per
   customer. Step-1 events that cannot be a best attempt are dropped first, and the starts
   that reach the same step-2 event share one search (they differ only by their deadline).
   The same greedy search written as SQL needs one self-join or ASOF join per step and per
   tie rule; the sorted passes state the rule once.
3. Each customer (or account) keeps its best attempt; counts, times and breakdowns are
   aggregated from those.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import AnalysisError
from . import journey_codes as jc
from ._common import (
    JOURNEY,
    Charted,
    Step,
    _json_equals,
    as_steps,
    as_time,
    attribute_name,
    choice,
    customer_attribute,
    journey,
    json_ready,
    parse_duration,
    per_column,
)
from .journey_codes import use_codes

ORDERS = ("ordered", "strict", "unordered")
PERIODS = ("day", "week", "month")
#: upper bounds (seconds) of the time-to-convert histogram bins; the last bin is open.
HISTOGRAM_BOUNDS = (60, 300, 900, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
_US = 1_000_000
_MISSING = "\x00missing"  # stands for "no value" while grouping a breakdown

__all__ = [
    "Step", "Exclusion", "FunnelStep", "FunnelBreakdown", "FunnelResult", "FunnelTrendsResult",
    "FunnelPeopleResult", "funnel", "funnel_trends", "funnel_people",
]


# -- parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Exclusion:
    """Leave out customers doing ``event`` after step ``start`` and before step ``end``."""

    event: str
    start: int
    end: int

    @classmethod
    def parse(cls, spec: "str | Exclusion", n_steps: int) -> "Exclusion":
        if isinstance(spec, Exclusion):
            ex = spec
        else:
            parts = str(spec).rsplit(":", 2)
            try:
                ex = cls(parts[0], int(parts[1]), int(parts[2]))
            except (IndexError, ValueError):
                raise AnalysisError(
                    f"invalid exclusion {spec!r}: expected EVENT:FROM:TO, e.g. refund:0:2"
                ) from None
        if not ex.event or not 0 <= ex.start < ex.end < n_steps:
            raise AnalysisError(
                f"invalid exclusion {spec!r}: steps are numbered 0 to {n_steps - 1} and FROM < TO"
            )
        return ex


def _attribution(value: str, n_steps: int) -> int | str:
    """first_touch -> 0, step:N -> N, last_touch stays a word (it depends on the attempt)."""
    if value == "first_touch":
        return 0
    if value == "last_touch":
        return value
    if value.startswith("step:"):
        try:
            n = int(value.removeprefix("step:"))
        except ValueError:
            n = -1
        if 0 <= n < n_steps:
            return n
    raise AnalysisError(
        f"attribution must be first_touch, last_touch or step:N with N from 0 to {n_steps - 1},"
        f" not {value!r}"
    )


# -- results -----------------------------------------------------------------------------


@dataclass
class FunnelStep:
    name: str
    count: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    average_seconds: float | None
    median_seconds: float | None

    def to_dict(self) -> dict:
        return {k: json_ready(v) for k, v in asdict(self).items()}


@dataclass
class FunnelBreakdown:
    value: Any
    steps: list[FunnelStep]

    def to_dict(self) -> dict:
        return {"value": json_ready(self.value), "steps": [s.to_dict() for s in self.steps]}


@dataclass
class FunnelResult(Charted):
    steps: list[FunnelStep]
    breakdown: list[FunnelBreakdown] = field(default_factory=list)
    #: per step after the first: [{"upper_seconds", "count"}], upper None for the open bin.
    histograms: list[dict] = field(default_factory=list)
    order: str = "ordered"
    window_seconds: float = 14 * 86400
    per: str = "customer"

    def to_dict(self) -> dict:
        return {
            "order": self.order,
            "window_seconds": self.window_seconds,
            "per": self.per,
            "steps": [s.to_dict() for s in self.steps],
            "breakdown": [b.to_dict() for b in self.breakdown],
            "time_to_convert": self.histograms,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per step, and per breakdown value when there is one (``value`` column)."""
        if not self.breakdown:
            return _steps_frame(self.steps)
        return pd.concat(
            [_steps_frame(b.steps).assign(value=b.value) for b in self.breakdown], ignore_index=True
        )


@dataclass
class FunnelTrendsResult(Charted):
    period: str
    #: [{"period": ISO date of the period's start, "steps": [FunnelStep ...]}]
    periods: list[dict]

    def to_dict(self) -> dict:
        return {
            "period": self.period,
            "periods": [
                {"period": p["period"], "steps": [s.to_dict() for s in p["steps"]]} for p in self.periods
            ],
        }

    def to_frame(self) -> pd.DataFrame:
        frames = [_steps_frame(p["steps"]).assign(period=p["period"]) for p in self.periods]
        return pd.concat(frames, ignore_index=True) if frames else _steps_frame([]).assign(period=None)


@dataclass
class FunnelPeopleResult:
    step: int
    dropped: bool
    #: [{"id", "furthest_step", "entered_at", "step_at"}], ids sorted (the first ``limit``).
    people: list[dict]
    #: how many customers there are in all, listed or not.
    total: int | None = None

    def __post_init__(self):
        if self.total is None:
            self.total = len(self.people)

    def to_dict(self) -> dict:
        return {"step": self.step, "dropped": self.dropped, "total": self.total, "people": self.people}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.people, columns=["id", "furthest_step", "entered_at", "step_at"])


def _steps_frame(steps: list[FunnelStep]) -> pd.DataFrame:
    cols = list(FunnelStep.__dataclass_fields__)
    return pd.DataFrame([asdict(s) for s in steps], columns=cols).assign(
        step=lambda f: range(len(f))
    )


# -- public functions --------------------------------------------------------------------


def funnel(
    store,
    steps: Iterable | None = None,
    window: str | int | float | dt.timedelta = "14d",
    order: str = "ordered",
    exclude: Iterable[str | Exclusion] = (),
    per: str = "customer",
    by: str | None = None,
    since=None,
    until=None,
    *,
    stages: bool | Iterable[str] = False,
    attribution: str = "first_touch",
    engine: str = "auto",
) -> FunnelResult:
    """Customers reaching each step of ``steps`` within ``window`` of their step-1 event.

    ``stages=True`` reads ``steps`` as stage ids; ``stages=[...]`` gives the stage ids directly.
    ``by`` breaks the counts down by an event column (its value on the event chosen by
    ``attribution``) or by a customer attribute (``attributes.segment``). ``since`` (included)
    and ``until`` (excluded) bound when attempts start; their later steps may come after.
    ``engine``: ``codes`` reads journey_events, ``portable`` journey_view (same numbers);
    ``auto`` takes the first when it can answer.
    """
    plan = _Plan.build(steps, stages, window, order, exclude, per, by, attribution)
    best = _best_attempts(store, plan, since, until, engine=engine)
    result = FunnelResult(
        steps=_aggregate(best, plan),
        order=plan.order,
        window_seconds=plan.window_us / _US,
        per=per,
        histograms=_histograms(best, plan),
    )
    if by is not None:
        # Largest groups first; customers without a value form the last group (value None).
        groups = best.groupby(best["value"].fillna(_MISSING), sort=False)
        for v, part in sorted(groups, key=lambda g: (g[0] == _MISSING, -len(g[1]), str(g[0]))):
            result.breakdown.append(FunnelBreakdown(None if v == _MISSING else v, _aggregate(part, plan)))
    return result


def funnel_trends(
    store,
    steps: Iterable | None = None,
    period: str = "day",
    window: str | int | float | dt.timedelta = "14d",
    order: str = "ordered",
    exclude: Iterable[str | Exclusion] = (),
    per: str = "customer",
    since=None,
    until=None,
    *,
    stages: bool | Iterable[str] = False,
    engine: str = "auto",
) -> FunnelTrendsResult:
    """The funnel of the customers who entered (did step 1) in each day, week or month.

    A customer entering in several periods counts in each, with its best attempt started there.
    """
    choice("period", period, PERIODS)
    plan = _Plan.build(steps, stages, window, order, exclude, per, None, "first_touch")
    best = _best_attempts(store, plan, since, until, period=period, engine=engine)
    periods = [
        {"period": p.date().isoformat(), "steps": _aggregate(part, plan)}
        for p, part in best.groupby("period", sort=True)
    ]
    return FunnelTrendsResult(period, periods)


def funnel_people(
    store,
    steps: Iterable | None = None,
    step: int = 0,
    dropped: bool = False,
    window: str | int | float | dt.timedelta = "14d",
    order: str = "ordered",
    exclude: Iterable[str | Exclusion] = (),
    per: str = "customer",
    since=None,
    until=None,
    *,
    stages: bool | Iterable[str] = False,
    limit: int | None = None,
    engine: str = "auto",
) -> FunnelPeopleResult:
    """The customers who reached step ``step`` (0-based), or who stopped there (``dropped``);
    the first ``limit`` by id when given (``total`` still counts them all)."""
    if limit is not None and limit < 0:
        raise AnalysisError(f"limit must be 0 or more, not {limit}")
    plan = _Plan.build(steps, stages, window, order, exclude, per, None, "first_touch")
    if not 0 <= step < len(plan.steps):
        raise AnalysisError(f"step must be from 0 to {len(plan.steps) - 1}, not {step}")
    best = _best_attempts(store, plan, since, until, engine=engine)
    chosen = best[best["reached"] == step + 1] if dropped else best[best["reached"] > step]
    total = len(chosen)
    if len(chosen) and not isinstance(chosen["who"].iloc[0], str):  # keys of journey_events
        chosen = chosen.assign(who=_ids_of_keys(store, plan.who, chosen["who"].to_numpy()))
    chosen = chosen.sort_values("who")
    if limit is not None:
        chosen = chosen.head(limit)
    people = [
        {
            "id": r.who,
            "furthest_step": int(r.reached) - 1,
            "entered_at": pd.Timestamp(r.t0, unit="us").isoformat(),
            "step_at": pd.Timestamp(getattr(r, f"t{step}"), unit="us").isoformat(),
        }
        for r in chosen.itertuples()
    ]
    return FunnelPeopleResult(step, dropped, people, total)


# -- the engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    steps: list[Step]
    window_us: int
    order: str
    exclusions: list[Exclusion]
    who: str
    by: str | None
    attribute: str | None
    attribution: int | str

    @classmethod
    def build(cls, steps, stages, window, order, exclude, per, by, attribution) -> "_Plan":
        if stages is not False and stages is not True:
            if steps is not None:
                raise AnalysisError("give either steps or stages=[...], not both")
            steps, stages = list(stages), True
        if steps is None:
            raise AnalysisError("a funnel needs steps")
        parsed = as_steps(steps, stages=bool(stages))
        if isinstance(exclude, str):
            exclude = [exclude]
        attr = attribute_name(by)
        if attr is not None and per == "account":
            raise AnalysisError("a breakdown by customer attribute needs per=customer")
        return cls(
            steps=parsed,
            window_us=int(parse_duration(window).total_seconds() * _US),
            order=choice("order", order, ORDERS),
            exclusions=[Exclusion.parse(x, len(parsed)) for x in exclude],
            who=per_column(per),
            by=by,
            attribute=attr,
            attribution=_attribution(attribution, len(parsed)),
        )


def _candidates(store, plan: _Plan, since, until):
    """The events that are a step or an exclusion, with flags, sorted by (who, timestamp, seq).

    ``since``/``until`` bound the attempts' starts; later steps may follow ``until`` within
    the window. Events outside [since, until + window) cannot change an attempt starting in
    [since, until): steps, exclusions and "in between" events all come after the start.
    """
    hi = None if until is None else as_time(until) + dt.timedelta(microseconds=plan.window_us)
    t = journey(store, since, hi)
    t = t.filter(t[plan.who].notnull())
    cols = {"who": t[plan.who], "timestamp": t.timestamp, "seq": t.seq, "event_id": t.event_id}
    if plan.order == "strict":
        # Events of the same customer strictly before this timestamp, and up to it (included).
        mine = ibis.window(group_by=t[plan.who])
        cols["n_before"] = ibis.rank().over(group_by=t[plan.who], order_by=t.timestamp)
        cols["n_upto"] = t.timestamp.count().over(mine) - ibis.rank().over(
            group_by=t[plan.who], order_by=t.timestamp.desc()
        )
    if plan.by is not None and plan.attribute is None:
        if plan.by not in t.columns:
            # the table may be filtered (since/until), so it has no name of its own to give
            raise AnalysisError(f"cannot break down by {plan.by!r}: no such column in {JOURNEY} "
                                "(use an event column such as channel, or attributes.NAME)")
        cols["value"] = t[plan.by].cast("string")
    flags = {f"s{i}": s.matches(t) for i, s in enumerate(plan.steps)}
    flags |= {f"x{i}": (t.event == x.event).fill_null(False) for i, x in enumerate(plan.exclusions)}
    e = t.select(**cols, **flags)
    e = e.filter(ibis.or_(*[e[f] for f in flags]))
    if plan.attribute is not None:
        attrs = customer_attribute(store, plan.attribute)
        e = e.left_join(attrs, e.who == attrs.customer_id).drop("customer_id")
    return _Rows.of(e.order_by("who", "timestamp", "seq", "event_id").to_pyarrow(), plan)


def _codes_query(store, plan: _Plan, since, until):
    """``make(keys=None, sort=False)``: the Ibis query of :func:`_candidates_codes`, for the
    person keys in ``[a, b)`` when ``keys`` is given, and whether it must sort anyway.

    Everything that reads the store (tables, codes) happens here, once; ``make`` only builds
    expressions, so threads can call it."""
    if len(plan.steps) + len(plan.exclusions) > 62:
        raise AnalysisError("a funnel takes at most 62 steps and exclusions together")
    key = jc.WHO[plan.who]
    table = store.table("journey_events")
    lo = jc.epoch_us(since)
    hi = None if until is None else jc.epoch_us(until) + plan.window_us
    must_sort = plan.order == "strict" or not jc.clustered(store) or key != "person_key"
    raw = None
    if any(s.properties for s in plan.steps):
        raw = store.table("events").select("_seq", "properties")
        must_sort = True
    dims = {kind: jc.codes(store, kind) for kind in ("event", "channel", "touchpoint", "stage")}
    by_code = _bits_by_event(plan, dims["event"])

    def make(keys: tuple[int, int] | None = None, sort: bool = False):
        sort = sort or must_sort
        t = table.filter(table[key].notnull())
        if lo is not None:
            t = t.filter(t.ts >= lo)
        if hi is not None:
            t = t.filter(t.ts < hi)
        if keys is not None:
            t = t.filter(t[key] >= keys[0], t[key] < keys[1])
        if raw is not None:
            t = t.inner_join(raw, t.seq == raw._seq)

        def is_(kind, name):
            code = dims[kind].get(name)
            return ibis.literal(False) if code is None else t[jc.DIMS[kind][3]] == code

        def matches(step: Step):
            conds = [is_(kind, getattr(step, kind)) for kind in dims if getattr(step, kind) is not None]
            conds += [_json_equals(t.properties[k], v) for k, v in step.properties.items()]
            return ibis.and_(*conds).fill_null(False)

        conds = [matches(s) for s in plan.steps] + [is_("event", x.event).fill_null(False) for x in plan.exclusions]
        if by_code is not None:  # one CASE on event_code gives every bit: several times cheaper
            bits = t.event_code.cases(*by_code.items(), else_=0) if by_code else ibis.literal(0)
        else:
            bits = sum((c.ifelse(1 << i, 0) for i, c in enumerate(conds)), ibis.literal(0))
        width = next(w for w in (8, 16, 32, 64) if len(conds) < w)  # the narrowest signed integer
        cols = {"who": t[key], "timestamp": t.ts, "flags": bits.cast(f"int{width}")}
        if sort:
            cols["seq"] = t.seq
        if plan.order == "strict":
            mine = ibis.window(group_by=t[key])
            cols["n_before"] = ibis.rank().over(group_by=t[key], order_by=t.ts)
            cols["n_upto"] = t.ts.count().over(mine) - ibis.rank().over(group_by=t[key], order_by=t.ts.desc())
        if plan.by is not None:
            cols["value"] = t[jc.DIMS[plan.by][3]].fill_null(-1)
        e = t.select(**cols)
        # Filtering on the bits, not with IN (...): DuckDB runs IN as a join, which loses the
        # stored order.
        e = e.filter(e.flags != 0)
        return e.order_by("who", "timestamp", "seq") if sort else e

    return make, must_sort


def _candidates_codes(store, plan: _Plan, since, until, keys=None, con=None, query=None, names=None) -> "_Rows":
    """:func:`_candidates` over journey_events: step names become codes once, ``who`` is the
    integer person (or account) key, and the raw events are joined only for property
    conditions. The step and exclusion flags come as the bits of one integer column, and the
    rows are already in order when the table is scanned as stored.

    ``keys``: only the persons with keys in ``[a, b)``; ``con``: run on that connection (a
    cursor of another thread), with ``query`` from :func:`_codes_query` and the breakdown's
    ``names`` (:func:`journey_codes.names`) read beforehand."""
    make, must_sort = query or _codes_query(store, plan, since, until)
    if plan.by is not None and names is None:
        names = jc.names(store, plan.by)

    def run(sort: bool) -> _Rows:
        e = make(keys, sort)
        return _Rows.of(e.to_pyarrow() if con is None else con.sql(ibis.to_sql(e, dialect="duckdb")).to_arrow_table(),
                        plan)

    rows = run(False)
    if not must_sort and not rows.in_order():  # DuckDB did not keep the stored order
        rows = run(True)
    if names is not None:
        rows.extra["value"] = names[rows.extra["value"] + 1]
    return rows


def _bits_by_event(plan: _Plan, event_codes: dict[str, int]) -> dict[int, int] | None:
    """event code -> its flag bits (see :class:`_Rows`) when every step is a bare event name."""
    if not all(s.event is not None and s.channel is s.touchpoint is s.stage is None and not s.properties
               for s in plan.steps):
        return None
    bits: dict[int, int] = {}
    for i, name in enumerate([s.event for s in plan.steps] + [x.event for x in plan.exclusions]):
        if name in event_codes:
            bits[event_codes[name]] = bits.get(event_codes[name], 0) | 1 << i
    return bits


@dataclass
class _Rows:
    """The candidate rows as numpy arrays, in (who, timestamp, seq) order.

    ``flags`` has bit i set when the row is step i, bit K + j when it is exclusion j: one
    integer column is cheaper to fetch and to filter than K + J boolean ones.
    """

    who: np.ndarray
    ts: np.ndarray  # µs since epoch, int64
    flags: np.ndarray
    n_steps: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # n_before, n_upto, value

    @classmethod
    def of(cls, table: pa.Table, plan: _Plan) -> "_Rows":
        col = lambda c: table.column(c).to_numpy(zero_copy_only=False)  # noqa: E731
        k = len(plan.steps)
        if "flags" in table.column_names:
            flags = col("flags")
        else:
            names = [f"s{i}" for i in range(k)] + [f"x{j}" for j in range(len(plan.exclusions))]
            flags = np.zeros(table.num_rows, np.int64)
            for i, c in enumerate(names):
                flags |= col(c).astype(np.int64) << i
        extra = {c: col(c) for c in ("n_before", "n_upto") if c in table.column_names}
        if "value" in table.column_names:
            extra["value"] = col("value")
        return cls(col("who"), table.column("timestamp").cast("int64").to_numpy(), flags, k, extra)

    def __len__(self) -> int:
        return len(self.who)

    def step(self, i: int) -> np.ndarray:
        return (self.flags & (1 << i)) != 0

    def exclusion(self, j: int) -> np.ndarray:
        return self.step(self.n_steps + j)

    def take(self, keep: np.ndarray) -> "_Rows":
        return _Rows(self.who[keep], self.ts[keep], self.flags[keep], self.n_steps,
                     {c: v[keep] for c, v in self.extra.items()})

    def in_order(self) -> bool:
        """(who, timestamp) never decrease: the stored order came through the scan."""
        who, ts = self.who, self.ts
        if len(who) < 2:
            return True
        return bool((who[1:] >= who[:-1]).all() and ((ts[1:] >= ts[:-1]) | (who[1:] != who[:-1])).all())


def _ids_of_keys(store, who: str, keys: np.ndarray) -> np.ndarray:
    """person_id (or account_id) of journey_events' integer keys."""
    table, key = ("persons", "person_key") if who == "person_id" else ("dim_account", "account_key")
    wanted = np.unique(keys)
    found = dict(store.fetch(f"SELECT {key}, {who} FROM {table} WHERE {key} IN (SELECT unnest(?))",
                             [wanted.tolist()]))
    return np.array([found.get(int(k)) for k in keys], dtype=object)


def _best_attempts(store, plan: _Plan, since, until, period: str | None = None,
                   engine: str = "auto") -> pd.DataFrame:
    """One row per customer (and period): its best attempt, exclusions applied.

    Columns: who, reached (number of steps done), t0..t{K-1} (µs since epoch, NaN when not
    reached), value (breakdown), period (when asked).
    """
    fast = use_codes(store, engine) and (plan.by is None or plan.by in jc.DIMS)
    lo_us, hi_us = (None if x is None else int(pd.Timestamp(as_time(x)).value // 1000) for x in (since, until))
    query = _codes_query(store, plan, since, until) if fast else None
    parts = None
    if fast and not query[1]:  # the clustered table: slices of persons, each on its cursor
        names = jc.names(store, plan.by) if plan.by is not None else None
        parts = jc.map_key_ranges(store, lambda keys, con: _best_in(
            _candidates_codes(store, plan, since, until, keys, con, query, names), plan, lo_us, hi_us, period))
    if parts is None:
        rows = _candidates_codes(store, plan, since, until, query=query) if fast else \
            _candidates(store, plan, since, until)
        parts = jc.map_customers(lambda part: _best_in(rows.take(part), plan, lo_us, hi_us, period), rows.who)
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _best_in(rows: "_Rows", plan: _Plan, lo_us: int | None, hi_us: int | None, period: str | None) -> pd.DataFrame:
    """:func:`_best_attempts` over some customers' candidate rows (all of each one's rows)."""
    k = len(plan.steps)
    if plan.order != "unordered" and period is None and k > 1:
        rows = _without_dead_starts(rows)
    n = len(rows)
    if n == 0:
        return _no_attempts(k)
    who, ts = rows.who, rows.ts
    # Integer keys (journey_events) already number the customers; names get numbers here.
    pid = who if who.dtype.kind in "iu" else np.cumsum(np.r_[False, who[1:] != who[:-1]])
    # A "moment" is one customer's events sharing a timestamp: they count as simultaneous.
    new_moment = np.r_[True, (pid[1:] != pid[:-1]) | (ts[1:] != ts[:-1])]
    firsts = np.flatnonzero(new_moment)
    moment = np.cumsum(new_moment) - 1
    del new_moment
    m_start = firsts[moment]
    m_end = np.r_[firsts[1:], n][moment] if plan.exclusions else None
    del moment
    step_pos = [np.flatnonzero(rows.step(i)) for i in range(k)]
    steps = rows.flags & ((1 << k) - 1)
    g = _Grid(pid, ts, m_start, shared=bool((steps & (steps - 1)).any()))
    del steps

    def entered(starts):  # attempts start in [since, until)
        keep = np.ones(len(starts), bool)
        if lo_us is not None:
            keep &= ts[starts] >= lo_us
        if hi_us is not None:
            keep &= ts[starts] < hi_us
        return starts[keep]

    split = None if period is None else (lambda starts: _period_start(ts[starts], period))
    if plan.order == "unordered":
        starts = entered(np.unique(np.concatenate(step_pos)))
        attempts = _Attempts(starts, _unordered(g, step_pos, starts, plan.window_us))
    elif plan.order == "ordered" and k > 1:
        attempts = _ordered_best(g, step_pos, entered(step_pos[0]), rows.flags == 1, plan.window_us, split)
    else:
        strict = (rows.extra["n_before"], rows.extra["n_upto"]) if plan.order == "strict" else None
        starts = entered(step_pos[0])
        attempts = _Attempts(starts, _ordered(g, step_pos, starts, plan.window_us, strict))
    starts, reached = attempts.starts, attempts.reached
    if len(starts) == 0:
        return _no_attempts(k)

    # Best attempt: the furthest, then the earliest; per customer (and per entry period).
    if period is None:  # starts are in customer order: the first furthest one of each
        group = np.cumsum(np.r_[True, pid[starts][1:] != pid[starts][:-1]]) - 1
        furthest = np.flatnonzero(reached == np.maximum.reduceat(reached, np.flatnonzero(np.diff(np.r_[-1, group])))[group])
        chosen = furthest[np.r_[True, group[furthest][1:] != group[furthest][:-1]]]
    else:
        keys = [split(starts), pid[starts]]
        ordering = np.lexsort((starts, -reached, *keys[::-1]))
        first = np.r_[True, np.any([np.diff(kk[ordering]) != 0 for kk in keys], axis=0)]
        chosen = ordering[first]
    pos, reached, starts = attempts.pos[chosen], reached[chosen], starts[chosen]

    keep = ~_excluded(plan, pid, ts, m_end, rows, pos, reached, starts)
    pos, reached, starts = pos[keep], reached[keep], starts[keep]

    times = np.where(pos >= 0, ts[np.maximum(pos, 0)], np.nan).T
    best = pd.DataFrame({"who": who[starts], "reached": reached, **{f"t{i}": times[i] for i in range(k)}})
    if period is not None:
        best["period"] = pd.to_datetime(_period_start(ts[starts], period), unit="us")
    if plan.by is not None:
        values = rows.extra["value"]
        if plan.attribution == "last_touch":
            at = pos[np.arange(len(pos)), reached - 1]
        else:
            at = pos[:, plan.attribution]
        best["value"] = pd.Series(np.where(at >= 0, values[np.maximum(at, 0)], None), dtype=object)
    return best


def _without_dead_starts(rows: _Rows) -> _Rows:
    """Drop the step-0 rows that cannot be a customer's best attempt (ordered, strict).

    A row that is only step 0 and comes after the customer's last step-1 event starts an
    attempt that reaches step 0 alone; the customer's first step-0 row does at least as
    well and is earlier, so it is kept and the others go. Customers who never did step 1
    keep one row instead of all their step-0 events.
    """
    if len(rows) == 0:
        return rows
    who, ts = rows.who, rows.ts
    second = np.flatnonzero(rows.step(1))
    if len(second) == 0:
        dead = rows.flags == 1
    elif who.dtype.kind in "iu" and who.min() >= 0:  # keys: a direct lookup per customer
        last = second[np.r_[who[second][1:] != who[second][:-1], True]]  # last step-1 row each
        latest = np.full(int(who.max()) + 1, np.iinfo(np.int64).min)
        latest[who[last]] = ts[last]
        dead = (rows.flags == 1) & (ts > latest[who])
    else:
        last = second[np.r_[who[second][1:] != who[second][:-1], True]]
        at = np.minimum(np.searchsorted(who[last], who), len(last) - 1)
        dead = (rows.flags == 1) & ((who[last][at] != who) | (ts > ts[last][at]))
    # Keep the first row of each run of dead rows: the customer's first step-0 row, when it
    # is dead, is the first of its run (keeping a few more changes nothing but speed).
    keep = ~dead
    keep[0] = True
    keep[1:] |= ~dead[:-1] | (who[1:] != who[:-1])
    return rows.take(keep) if not keep.all() else rows


def _no_attempts(k: int) -> pd.DataFrame:
    cols = {"who": object, "reached": np.int64, **{f"t{i}": float for i in range(k)}}
    cols |= {"period": "datetime64[us]", "value": object}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})


@dataclass
class _Grid:
    pid: np.ndarray  # customer number per row (rows sorted by customer, time, seq)
    ts: np.ndarray  # µs since epoch
    m_start: np.ndarray  # first row of the row's moment (same customer and timestamp)
    shared: bool = True  # whether a row may be two steps (else no step can reuse a row)

    def next_of(self, cand: np.ndarray, row: np.ndarray) -> np.ndarray:
        """:meth:`next_at_or_after` without ``skip``, for many rows: one pass over the grid
        ("the next candidate at or after each row") instead of a binary search per row."""
        if len(cand) == 0 or len(row) == 0:
            return np.full(len(row), -1)
        n = len(self.ts)
        following = np.full(n + 1, n, dtype=np.int64)
        following[cand] = cand
        following = np.minimum.accumulate(following[::-1])[::-1]
        found = following[self.m_start[row]]
        safe = np.minimum(found, n - 1)
        return np.where((found < n) & (self.pid[safe] == self.pid[row]), found, -1)

    def next_at_or_after(self, cand: np.ndarray, row: np.ndarray, skip: np.ndarray | None = None):
        """The first row of ``cand`` simultaneous with or after ``row``, same customer; -1 if none.

        ``skip`` (attempts x used rows) lists rows the attempt already used: an event fills
        one step at most, so they are passed over.
        """
        if len(cand) == 0 or len(row) == 0:
            return np.full(len(row), -1)
        idx = np.searchsorted(cand, self.m_start[row])
        if skip is not None and self.shared:
            # Used rows can only be simultaneous ones; each pass skips at least one.
            for _ in range(skip.shape[1]):
                hit = (idx < len(cand)) & (cand[np.minimum(idx, len(cand) - 1)][:, None] == skip).any(axis=1)
                if not hit.any():
                    break
                idx = idx + hit
        found = cand[np.minimum(idx, len(cand) - 1)]
        ok = (idx < len(cand)) & (self.pid[found] == self.pid[row])
        return np.where(ok, found, -1)


def _ordered(g: _Grid, step_pos, starts, window_us, strict) -> np.ndarray:
    """Rows of each attempt's steps (-1 once the attempt stopped), greedily earliest."""
    pos = np.full((len(starts), len(step_pos)), -1, dtype=np.int64)
    pos[:, 0] = starts
    deadline = g.ts[starts] + window_us
    live = np.arange(len(starts))
    for k in range(1, len(step_pos)):
        prev = pos[live, k - 1]
        nxt = g.next_at_or_after(step_pos[k], prev, skip=pos[live, :k] if g.shared else None)
        ok = nxt >= 0
        ok &= g.ts[np.maximum(nxt, 0)] <= deadline[live]
        if strict is not None:
            n_before, n_upto = strict
            ok &= n_before[np.maximum(nxt, 0)] <= n_upto[prev]  # nothing strictly in between
        pos[live[ok], k] = nxt[ok]
        live = live[ok]
    return pos


class _Attempts:
    """Attempts: their start rows (in row order), their rows per step (-1 once they
    stopped) and ``reached``, how many steps each did."""

    def __init__(self, starts: np.ndarray, pos: np.ndarray):
        self.starts, self.pos = starts, pos
        self.reached = (pos >= 0).sum(axis=1)


#: a window longer than any journey: the chains of :func:`_ordered_best` are cut later.
_NO_WINDOW = 1 << 62


def _ordered_best(g: _Grid, step_pos, starts, lone: np.ndarray, window_us: int, split=None) -> _Attempts:
    """The attempts that can be a customer's best (ordered, not strict): fewer than the starts.

    A start that is step 1 alone (``lone``: row mask) goes on to the first step-2 row at or
    after it, and from there its later rows depend on that row only, not on the start. So
    the starts sharing that row (and ``split``'s key, the entry period) form a group whose
    attempts differ by their deadline alone: one chain is searched per group, the group's
    last start reaches furthest, and the earliest start reaching as far (a binary search on
    time) is the group's candidate. Other starts (rows that are more than step 1) are
    followed one by one as :func:`_ordered` does.
    """
    k = len(step_pos)
    is_lone = lone[starts]
    single, others = starts[is_lone], starts[~is_lone]
    one = _Attempts(others, _ordered(g, step_pos, others, window_us, None))
    if len(single) == 0:
        return one
    second = g.next_of(step_pos[1], single)
    new = np.ones(len(single), bool)
    new[1:] = (second[1:] != second[:-1]) | (g.pid[single[1:]] != g.pid[single[:-1]])
    if split is not None:
        key = split(single)
        new[1:] |= key[1:] != key[:-1]
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(single)] - 1
    heads = second[first]
    chain = np.full((len(first), k - 1), -1, dtype=np.int64)
    has = heads >= 0
    chain[has] = _ordered(g, step_pos[1:], heads[has], _NO_WINDOW, None)
    chain_ts = np.where(chain >= 0, g.ts[np.maximum(chain, 0)], np.iinfo(np.int64).max)
    single_ts = g.ts[single]
    # Chain times never decrease, so the steps within a start's window are a prefix.
    reached = 1 + (chain_ts <= (single_ts[last] + window_us)[:, None]).sum(axis=1)
    need = np.where(reached > 1, chain_ts[np.arange(len(first)), np.maximum(reached - 2, 0)] - window_us,
                    np.iinfo(np.int64).min)
    lo, hi = first.copy(), last.copy()
    live = np.flatnonzero(lo < hi)
    while len(live):  # the first start of each group at or after its ``need``
        mid = (lo[live] + hi[live]) // 2
        ok = single_ts[mid] >= need[live]
        hi[live] = np.where(ok, mid, hi[live])
        lo[live] = np.where(ok, lo[live], mid + 1)
        live = live[lo[live] < hi[live]]
    pos = np.concatenate([single[lo][:, None], chain], axis=1)
    pos[np.arange(k) >= reached[:, None]] = -1
    if len(others) == 0:
        return _Attempts(single[lo], pos)
    # Merge the two sorted lists of attempts by start row.
    at = np.searchsorted(single[lo], others) + np.arange(len(others))
    merged = np.zeros(len(pos) + len(others), bool)
    merged[at] = True
    out = np.empty((len(merged), k), dtype=np.int64)
    out[merged], out[~merged] = one.pos, pos
    return _Attempts(out[:, 0].copy(), out)


def _unordered(g: _Grid, step_pos, starts, window_us) -> np.ndarray:
    """Rows at which each attempt first did each step within its window, in time order."""
    deadline = g.ts[starts] + window_us
    big = np.iinfo(np.int64).max
    found = np.full((len(starts), len(step_pos)), big, dtype=np.int64)
    for j, cand in enumerate(step_pos):
        nxt = g.next_at_or_after(cand, starts)
        ok = (nxt >= 0) & (g.ts[np.maximum(nxt, 0)] <= deadline)
        found[ok, j] = nxt[ok]
    # Rows are in time order within a customer, so sorting rows sorts by time.
    found.sort(axis=1)
    return np.where(found == big, -1, found)


def _excluded(plan, pid, ts, m_end, rows: _Rows, pos, reached, starts) -> np.ndarray:
    """Attempts with an exclusion event after step FROM and before step TO (or window end)."""
    out = np.zeros(len(pos), bool)
    for i, x in enumerate(plan.exclusions):
        cand = np.flatnonzero(rows.exclusion(i))
        live = np.flatnonzero(reached > x.start)
        if len(cand) == 0 or len(live) == 0:
            continue
        after = pos[live, x.start]
        idx = np.searchsorted(cand, m_end[after])  # first exclusion event strictly later
        found = cand[np.minimum(idx, len(cand) - 1)]
        hit = (idx < len(cand)) & (pid[found] == pid[after])
        to = pos[live, x.end]
        limit_ok = np.where(
            to >= 0, ts[found] < ts[np.maximum(to, 0)], ts[found] <= ts[starts[live]] + plan.window_us
        )
        out[live[hit & limit_ok]] = True
    return out


def _period_start(us: np.ndarray, period: str) -> np.ndarray:
    """µs since epoch -> µs of the start of its UTC day, ISO week (Monday) or month."""
    days = us.astype("datetime64[us]").astype("datetime64[D]")
    if period == "week":
        # 1970-01-01 was a Thursday: shift by 3 days so weeks start on Monday.
        days = ((days.astype(np.int64) + 3) // 7 * 7 - 3).astype("datetime64[D]")
    elif period == "month":
        days = days.astype("datetime64[M]").astype("datetime64[D]")
    return days.astype("datetime64[us]").astype(np.int64)


def _aggregate(best: pd.DataFrame, plan: _Plan) -> list[FunnelStep]:
    """Cumulative counts, conversions and times between consecutive steps."""
    out = []
    reached = best["reached"].to_numpy()
    first = int((reached >= 1).sum())
    prev = None
    for k, step in enumerate(plan.steps):
        count = int((reached > k).sum())
        avg = med = None
        if k > 0 and count:
            done = best[reached > k]
            secs = (done[f"t{k}"] - done[f"t{k - 1}"]).to_numpy() / _US
            avg, med = float(secs.mean()), float(np.median(secs))
        out.append(
            FunnelStep(
                name=step.name,
                count=count,
                conversion_from_previous=None if k == 0 or not prev else count / prev,
                conversion_from_first=count / first if first else None,
                average_seconds=avg,
                median_seconds=med,
            )
        )
        prev = count
    return out


def _histograms(best: pd.DataFrame, plan: _Plan) -> list[dict]:
    edges = np.array([0, *HISTOGRAM_BOUNDS, np.inf])
    out = []
    reached = best["reached"].to_numpy()
    for k in range(1, len(plan.steps)):
        done = best[reached > k]
        secs = (done[f"t{k}"] - done[f"t{k - 1}"]).to_numpy() / _US
        # Bins are (lower, upper]; 0 s goes to the first bin.
        idx = np.searchsorted(edges[1:], secs, side="left")
        counts = np.bincount(idx, minlength=len(edges) - 1)
        bins = [
            {"upper_seconds": None if np.isinf(hi) else int(hi), "count": int(c)}
            for hi, c in zip(edges[1:], counts)
        ]
        out.append({"step": k, "name": plan.steps[k].name, "bins": bins})
    return out
