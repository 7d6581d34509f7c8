"""Customer acquisition cost: spend of a period / new customers acquired in it.

* Periods are calendar periods in UTC: day, ISO week (from Monday), month, quarter or year.
* Spend: the ``spend`` table summed per period (of its ``date``) and, with ``by``, per
  ``channel`` or ``campaign`` (a null campaign is the group :data:`NO_GROUP`). Amounts are
  added as they are: one currency is assumed.
* New customers: a person of ``journey_view`` is acquired in the period of their first
  ``new_customer_event`` (``purchase`` by default). Their acquisition channel is *first
  touch*: the channel of their first event (in timestamp, seq order) that has a channel;
  their campaign is ``properties.campaign`` of their first event that has one. A customer
  without any is in :data:`NO_GROUP`.
* ``cac = spend / new_customers``. A (period, group) with spend but no new customer keeps
  its spend and has ``cac`` null; one with new customers but no spend row has spend 0 and
  cac 0 (nothing was recorded as spent on it).
* ``since`` / ``until`` (``since <= t < until``) restrict both the spend dates and the
  first-purchase times; a customer whose first purchase is before ``since`` is not new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, choice, json_ready

__all__ = ["CacResult", "cac", "PERIODS", "NO_GROUP"]

PERIODS = ("day", "week", "month", "quarter", "year")
BYS = ("channel", "campaign")
NO_GROUP = "(none)"


@dataclass
class CacResult:
    by: str | None
    period: str
    #: [{"period": ISO date, <by>: group, "spend", "new_customers", "cac"}], by period then group.
    rows: list[dict] = field(default_factory=list)
    #: the whole range: {"spend", "new_customers", "cac"}.
    total: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"by": self.by, "period": self.period, "rows": self.rows, "total": self.total}

    def to_frame(self) -> pd.DataFrame:
        cols = ["period"] + ([self.by] if self.by else []) + ["spend", "new_customers", "cac"]
        return pd.DataFrame(self.rows, columns=cols)


def _ratio(spend, customers):
    if not customers:
        return None
    return float(spend or 0.0) / customers


def cac(store, by: str | None = "channel", period: str = "month", new_customer_event: str = "purchase",
        since=None, until=None) -> CacResult:
    """Spend, new customers and CAC per period (and per channel or campaign)."""
    choice("period", period, PERIODS)
    if by is not None:
        choice("by", by, BYS)
    lo, hi = as_time(since), as_time(until)
    if lo is not None and hi is not None and lo >= hi:
        raise AnalysisError(f"since ({lo}) must be before until ({hi})")
    key_new = {None: "''", "channel": "channel", "campaign": "campaign"}[by]
    key_spend = {None: "''", "channel": "channel", "campaign": "campaign"}[by]
    params: list = [new_customer_event]
    new_where, spend_where = ["first_purchase IS NOT NULL"], ["TRUE"]
    if lo is not None:
        new_where.append("first_purchase >= ?")
        spend_where.append("CAST(date AS TIMESTAMP) >= ?")
    if hi is not None:
        new_where.append("first_purchase < ?")
        spend_where.append("CAST(date AS TIMESTAMP) < ?")
    bounds = [b for b in (lo, hi) if b is not None]
    sql = f"""
        WITH jv AS (
            SELECT person_id, "timestamp" AS ts, seq, event, channel,
                   json_extract_string(properties, '$.campaign') AS campaign
            FROM {JOURNEY} WHERE person_id IS NOT NULL),
        firsts AS (
            SELECT person_id,
                   min(ts) FILTER (WHERE event = ?) AS first_purchase,
                   first(channel ORDER BY ts, seq) FILTER (WHERE channel IS NOT NULL) AS channel,
                   first(campaign ORDER BY ts, seq) FILTER (WHERE campaign IS NOT NULL) AS campaign
            FROM jv GROUP BY person_id),
        new AS (
            SELECT CAST(date_trunc('{period}', first_purchase) AS DATE) AS period,
                   coalesce({key_new}, '{NO_GROUP}') AS grp, count(*) AS customers
            FROM firsts WHERE {' AND '.join(new_where)} GROUP BY ALL),
        sp AS (
            SELECT CAST(date_trunc('{period}', date) AS DATE) AS period,
                   coalesce({key_spend}, '{NO_GROUP}') AS grp, sum(amount) AS spend
            FROM spend WHERE {' AND '.join(spend_where)} GROUP BY ALL)
        SELECT coalesce(sp.period, new.period) AS period, coalesce(sp.grp, new.grp) AS grp,
               coalesce(sp.spend, 0) AS spend, coalesce(new.customers, 0) AS customers
        FROM sp FULL OUTER JOIN new ON sp.period = new.period AND sp.grp = new.grp
        ORDER BY 1, 2"""
    rows = store.fetch(sql, params + bounds + bounds)
    result = CacResult(by, period)
    for p, g, spend, customers in rows:
        row = {"period": json_ready(p)}
        if by:
            row[by] = g
        row.update(spend=float(spend), new_customers=int(customers), cac=_ratio(spend, customers))
        result.rows.append(row)
    total_spend = float(sum(r["spend"] for r in result.rows))
    total_new = int(sum(r["new_customers"] for r in result.rows))
    result.total = {"spend": total_spend, "new_customers": total_new, "cac": _ratio(total_spend, total_new)}
    return result
