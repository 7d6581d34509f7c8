"""Retention: do customers come back after a first purchase (or any start event)?

Periods are calendar periods in UTC (days; ISO weeks from Monday; months), numbered as
integers in the engine so "n periods later" is a subtraction. Everything is Ibis over the
journey view; only one row per (cohort, period) comes back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import pandas as pd

from ..errors import AnalysisError
from ._common import Charted, choice, journey, per_column

PERIODS = ("day", "week", "month")
TYPES = ("first_time", "recurring")
_EPOCH = dt.date(1970, 1, 1)

__all__ = ["RetentionResult", "retention", "period_number", "period_start"]


@dataclass
class RetentionResult(Charted):
    period: str
    periods: int
    start_event: str
    return_event: str | None
    retention_type: str
    #: [{"cohort": ISO date, "size", "values": [{"period": n, "customers", "share",
    #: "share_of_previous"}]}]
    cohorts: list[dict] = field(default_factory=list)
    #: [{"period": ISO date, "new", "returning", "resurrecting", "dormant"}]
    lifecycle: list[dict] = field(default_factory=list)
    purchasers: int = 0
    repeat_purchasers: int = 0

    @property
    def repeat_purchase_rate(self) -> float | None:
        return self.repeat_purchasers / self.purchasers if self.purchasers else None

    def to_dict(self) -> dict:
        return {
            "period": self.period,
            "periods": self.periods,
            "start_event": self.start_event,
            "return_event": self.return_event,
            "retention_type": self.retention_type,
            "cohorts": self.cohorts,
            "lifecycle": self.lifecycle,
            "purchasers": self.purchasers,
            "repeat_purchasers": self.repeat_purchasers,
            "repeat_purchase_rate": self.repeat_purchase_rate,
        }

    def to_frame(self) -> pd.DataFrame:
        """The cohort table in long form: cohort, size, period, customers, share."""
        rows = [
            {"cohort": c["cohort"], "size": c["size"], **v} for c in self.cohorts for v in c["values"]
        ]
        return pd.DataFrame(rows, columns=["cohort", "size", "period", "customers", "share", "share_of_previous"])


def period_number(ts, period: str):
    """An Ibis timestamp -> the integer number of its UTC day, ISO week or month since 1970."""
    if period == "month":
        return ts.year() * 12 + ts.month() - 1
    days = ts.epoch_seconds() // 86400
    # 1970-01-01 was a Thursday: shift by 3 days so that weeks start on Monday.
    return days if period == "day" else (days + 3) // 7


def period_start(n: int, period: str) -> dt.date:
    """The first day of period number ``n`` (the inverse of :func:`period_number`)."""
    if period == "month":
        return dt.date(n // 12, n % 12 + 1, 1)
    return _EPOCH + dt.timedelta(days=n if period == "day" else 7 * n - 3)


def retention(
    store,
    start_event: str = "purchase",
    return_event: str | None = None,
    period: str = "day",
    periods: int = 12,
    *,
    retention_type: str = "first_time",
    purchase_event: str = "purchase",
    per: str = "customer",
    since=None,
    until=None,
) -> RetentionResult:
    """Cohorts by start period, the share active again ``n`` periods later, and the lifecycle.

    ``return_event=None`` counts any event as activity. ``first_time`` puts each customer in
    the cohort of their first ``start_event``; ``recurring`` in the cohort of every period in
    which they did it. Only the last ``periods`` periods of the data are reported.
    """
    choice("period", period, PERIODS)
    choice("retention_type", retention_type, TYPES)
    if periods < 1:
        raise AnalysisError(f"periods must be at least 1, not {periods}")
    who = per_column(per)
    t = journey(store, since, until)
    t = t.filter(t[who].notnull())
    t = t.mutate(who=t[who], pn=period_number(t.timestamp, period))

    result = RetentionResult(period, periods, start_event, return_event, retention_type)
    last = t.pn.max().execute()
    if last is None or pd.isna(last):
        return result
    last = int(last)
    first_shown = last - periods + 1

    active = (t if return_event is None else t.filter(t.event == return_event)).select("who", "pn").distinct()
    starts = t.filter(t.event == start_event)
    if retention_type == "first_time":
        cohorts = starts.group_by("who").aggregate(cohort=starts.pn.min())
    else:
        cohorts = starts.select("who", cohort=starts.pn).distinct()
    cohorts = cohorts.filter(cohorts.cohort >= first_shown)
    result.cohorts = _cohort_table(cohorts, active, periods, last, period)
    result.lifecycle = _lifecycle(active, first_shown, last, period)

    bought = t.filter(t.event == purchase_event).group_by("who").aggregate(n=lambda g: g.count())
    counts = bought.aggregate(purchasers=bought.count(), repeat=(bought.n >= 2).sum()).execute()
    result.purchasers = int(counts.purchasers.iloc[0])
    result.repeat_purchasers = int(counts["repeat"].fillna(0).iloc[0])
    return result


def _cohort_table(cohorts, active, periods, last, period) -> list[dict]:
    sizes = cohorts.group_by("cohort").aggregate(size=cohorts.count()).execute()
    back = cohorts.join(active, "who").mutate(n=lambda j: j.pn - j.cohort)
    back = back.filter((back.n >= 0) & (back.n < periods))
    retained = back.group_by(["cohort", "n"]).aggregate(customers=back.who.nunique()).execute()
    found = {(int(r.cohort), int(r.n)): int(r.customers) for r in retained.itertuples()}
    out = []
    for r in sizes.sort_values("cohort").itertuples():
        c, size = int(r.cohort), int(r.size)
        values, before = [], None
        for n in range(min(periods, last - c + 1)):
            k = found.get((c, n), 0)
            values.append({"period": n, "customers": k, "share": k / size,
                           "share_of_previous": k / before if before else None})
            before = k
        out.append({"cohort": period_start(c, period).isoformat(), "size": size, "values": values})
    return out


def _lifecycle(active, first_shown, last, period) -> list[dict]:
    """PostHog's lifecycle: each active customer is new, returning or resurrecting; dormant
    counts those active the period before and not in this one."""
    w = ibis.window(group_by=active.who, order_by=active.pn)
    a = active.mutate(prev=active.pn.lag().over(w), next=active.pn.lead().over(w))
    status = ibis.cases(
        (a.prev.isnull(), "new"), (a.prev == a.pn - 1, "returning"), else_="resurrecting"
    )
    came = a.group_by(period="pn", status=status).aggregate(customers=a.count())
    gone = a.filter(a.next.isnull() | (a.next > a.pn + 1)).mutate(period=a.pn + 1, status=ibis.literal("dormant"))
    gone = gone.group_by(["period", "status"]).aggregate(customers=gone.count())
    both = came.union(gone)
    rows = both.filter((both.period >= first_shown) & (both.period <= last)).execute()
    first_active = active.pn.min().execute()
    start = last + 1 if pd.isna(first_active) else max(first_shown, int(first_active))
    table = {p: dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0) for p in range(start, last + 1)}
    for r in rows.itertuples():
        table[int(r.period)][r.status] = int(r.customers)
    return [{"period": period_start(p, period).isoformat(), **v} for p, v in table.items()]
