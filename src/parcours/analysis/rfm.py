"""RFM: recency, frequency and monetary quintile scores per person, and the named RFM segments.

Definitions (exact, also in ``docs/segments.md``), over the persons with at least one
purchase event (``purchase_event``, default ``purchase``) in ``journey_view``:

* recency: days (fractional) from the person's last purchase to ``as_of`` (default: the
  latest event of the store); frequency: number of purchases; monetary: sum of their
  ``value`` (missing values count 0).
* each score is a quintile from 1 to 5, higher is better (recent, frequent, big spender):
  ``1 + floor(5 × (rank − 1) / n)`` where ``rank`` is the person's rank from worst to best
  with ties sharing the lowest rank, and ``n`` the number of persons scored. Ties always get
  the same score, so a score may be empty (many one-purchase persons share F = 1).
* the named segment comes from the R and F scores, with the usual RFM grid:
  R 5: F 1 new, F 2–3 potential_loyalists, F 4–5 champions;
  R 4: F 1 promising, F 2–3 potential_loyalists, F 4–5 loyal;
  R 3: F 1–2 about_to_sleep, F 3 need_attention, F 4–5 loyal;
  R 1–2: F 1–2 hibernating, F 3–4 at_risk, F 5 cannot_lose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, json_ready

__all__ = ["RFM_SEGMENTS", "RfmResult", "rfm", "rfm_segment", "rfm_sql"]

#: named segments, in the order they are shown.
RFM_SEGMENTS = ("champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
                "about_to_sleep", "at_risk", "cannot_lose", "hibernating")


def rfm_segment(r: int, f: int) -> str:
    """The named segment of an (R, F) pair of scores, from the usual RFM grid."""
    if r <= 2:
        return "hibernating" if f <= 2 else "at_risk" if f <= 4 else "cannot_lose"
    if r == 3:
        return "about_to_sleep" if f <= 2 else "need_attention" if f == 3 else "loyal"
    if f >= 4:
        return "champions" if r == 5 else "loyal"
    if f >= 2:
        return "potential_loyalists"
    return "new" if r == 5 else "promising"


def _segment_case() -> str:
    whens = " ".join(f"WHEN r = {r} AND f = {f} THEN '{rfm_segment(r, f)}'"
                     for r in range(1, 6) for f in range(1, 6))
    return f"CASE {whens} END"


def rfm_sql(as_of, purchase_event: str) -> tuple[str, list]:
    """SQL of one row per scored person: person_id, recency_days, frequency, monetary, r, f, m,
    segment. ``as_of`` None means the store's latest event."""
    ref = "(SELECT max(\"timestamp\") FROM " + JOURNEY + ")" if as_of is None else "CAST(? AS TIMESTAMP)"

    def score(col: str, worst_first: str) -> str:
        return (f"CAST(1 + floor(5 * (rank() OVER (ORDER BY {col} {worst_first}) - 1) "
                f"/ count(*) OVER ()) AS INTEGER)")

    sql = f"""WITH agg AS (
            SELECT person_id,
                   (epoch({ref}) - epoch(max("timestamp"))) / 86400.0 AS recency_days,
                   count(*) AS frequency, coalesce(sum(value), 0) AS monetary
            FROM {JOURNEY} WHERE event = ? AND person_id IS NOT NULL GROUP BY person_id),
        scored AS (
            SELECT *, {score('recency_days', 'DESC')} AS r, {score('frequency', 'ASC')} AS f,
                   {score('monetary', 'ASC')} AS m
            FROM agg)
        SELECT *, {_segment_case()} AS segment FROM scored"""
    # the recency reference is read first in the text, so its parameter comes first
    return sql, ([as_of] if as_of is not None else []) + [purchase_event]


@dataclass
class RfmResult:
    as_of: str | None
    purchase_event: str
    #: [{"person_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"}]
    scores: list[dict] = field(default_factory=list)

    @property
    def segments(self) -> dict[str, int]:
        counts = {s: 0 for s in RFM_SEGMENTS}
        for row in self.scores:
            counts[row["segment"]] += 1
        return counts

    def to_dict(self) -> dict:
        return {"as_of": self.as_of, "purchase_event": self.purchase_event,
                "segments": self.segments, "scores": self.scores}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.scores, columns=["person_id", "recency_days", "frequency",
                                                  "monetary", "r", "f", "m", "segment"])


def rfm(store, as_of=None, purchase_event: str = "purchase") -> RfmResult:
    """R, F and M quintile scores (1–5) and the named segment of every person who purchased."""
    if not store.has_table(JOURNEY):
        raise AnalysisError("no journey tables: run the stage assignment (parcours refresh) first")
    if not purchase_event:
        raise AnalysisError("purchase_event cannot be empty")
    when = as_time(as_of)
    sql, params = rfm_sql(when, purchase_event)
    frame = store.sql(sql + " ORDER BY person_id", params).df()
    rows = [{k: json_ready(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return RfmResult(None if when is None else when.isoformat(), purchase_event, rows)
