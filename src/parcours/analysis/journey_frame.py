"""The events, people and feedback a detector needs, loaded once as sorted pandas frames.

Why one load: the pain-point detectors and the moments of truth each look at the same
journeys from a dozen angles; reading ``journey_view`` once (one DuckDB scan, sorted by
person and time, names as pandas categories) and slicing it in numpy is faster than a
dozen SQL round trips, and every detector sees exactly the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time

WEEK = pd.Timedelta(days=7)
#: the conversion events the pain points and the moments of truth look for by default.
CONVERSIONS = ("purchase", "repeat_purchase")
#: a negative answer per feedback kind (NPS detractor, CSAT/review 1-2, CES 5-7 of 7).
NEGATIVE = {"nps": ("<=", 6), "csat": ("<=", 2), "review": ("<=", 2), "ces": (">=", 5)}


@dataclass
class JourneyFrame:
    """``events`` sorted by (person, time, seq) with integer ``pid``; ``segment`` per pid."""

    events: pd.DataFrame
    segment: pd.Series  # index pid -> segment value (missing for unknown people)
    feedback: pd.DataFrame  # with pid (or -1), negative flag
    t0: pd.Timestamp  # start of the first period (a Monday)
    periods: int
    months: float  # length of the data in months (30.44 days)
    conversions: tuple[str, ...]
    #: the last weeks are left out of period scans: journeys started there are not finished
    #: (censoring makes waits, exits and conversions there look different).
    tail: int = 3

    @property
    def scanned(self) -> int:
        """How many periods the incident scans look at."""
        return max(self.periods - self.tail, 0)

    def touchpoint_table(self) -> pd.DataFrame:
        """Per touchpoint: its main stage, the events held there, its visitors (computed once)."""
        if getattr(self, "_tp_table", None) is None:
            ev = self.events[self.events.touchpoint.notna()]
            by = ev.groupby(["touchpoint", "stage"], observed=True).size().reset_index(name="n")
            main = by.sort_values("n", ascending=False, kind="stable").drop_duplicates("touchpoint")
            share = main.set_index("touchpoint").n / by.groupby("touchpoint", observed=True).n.sum()
            held = ev.groupby(["touchpoint", "event"], observed=True).size().reset_index()
            table = pd.DataFrame({
                "stage": main.set_index("touchpoint").stage.astype(object),
                "stage_share": share,
                "events": held.groupby("touchpoint", observed=True).event.agg(lambda s: set(s.astype(object))),
                "visitors": ev.groupby("touchpoint", observed=True).pid.nunique()})
            table.index = table.index.astype(object)
            self._tp_table = table
        return self._tp_table

    def period_start(self, i: int) -> dt.date:
        return (self.t0 + i * WEEK).date()

    def period_end(self, i: int) -> dt.date:
        return (self.t0 + (i + 1) * WEEK - pd.Timedelta(days=1)).date()

    def period_of(self, ts: pd.Series) -> np.ndarray:
        return ((ts - self.t0) // WEEK).to_numpy().astype(int)

    def window_months(self, start: int | None, end: int | None) -> float:
        if start is None:
            return self.months
        return max((end - start + 1) * 7 / 30.44, 7 / 30.44)


#: the event properties the detectors read (matter and ticket of contacts, product prices)
PROPS = '{"matter": "VARCHAR", "ticket_id": "VARCHAR", "product_id": "VARCHAR", "price": "DOUBLE"}'


def load(store, conversions: tuple[str, ...], segment_attribute: str = "segment",
         since=None, until=None) -> JourneyFrame:
    """Read the journeys (``since <= timestamp < until``), segments and feedback (JSON
    properties parsed once per event, names as categories)."""
    if not store.has_table(JOURNEY):
        raise AnalysisError("journeys are not built yet: run a refresh first")
    conds, params = [], []
    for op, bound in ((">=", as_time(since)), ("<", as_time(until))):
        if bound is not None:
            conds.append(f'"timestamp" {op} ?')
            params.append(bound)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    ev = store.sql(f"""SELECT person_id, customer_id, "timestamp" AS ts, event, channel, touchpoint,
            stage, stage_index, value, p.matter AS matter, p.ticket_id AS ticket,
            p.product_id AS product, p.price AS price
        FROM (SELECT *, json_transform(properties, '{PROPS}') AS p FROM {JOURNEY} {where})
        ORDER BY person_id, "timestamp", seq""", params or None).arrow()
    if hasattr(ev, "read_all"):  # a record batch reader
        ev = ev.read_all()
    # names repeat: categories (one Python string per distinct value) are several times
    # faster to build than a column of Python strings.
    ev = ev.to_pandas(strings_to_categorical=True)
    ids = ev["person_id"]
    ev["pid"] = pd.factorize(ids.cat.codes if hasattr(ids, "cat") else ids)[0]
    for col in ("event", "channel", "touchpoint", "stage", "matter"):
        ev[col] = ev[col].astype("category")
    key = '$."' + segment_attribute.replace('"', '\\"') + '"'
    who = ev.loc[ev.customer_id.notna(), ["customer_id", "pid"]].drop_duplicates("customer_id")
    who = who.assign(customer_id=who.customer_id.astype(object))
    seg = store.sql(f"SELECT customer_id, json_extract_string(attributes, ?) AS v FROM customers "
                    "WHERE attributes IS NOT NULL", [key]).df()
    seg = seg.merge(who, on="customer_id").dropna(subset=["v"]).drop_duplicates("pid")
    segment = pd.Series(seg.v.to_numpy(), index=seg.pid.to_numpy())
    fb = store.sql("""SELECT customer_id, "timestamp" AS ts, kind, score, text, channel, touchpoint
        FROM feedback""").df()
    fb = fb.merge(who, on="customer_id", how="left")
    fb["pid"] = fb["pid"].fillna(-1).astype(int)
    neg = np.zeros(len(fb), dtype=bool)
    for kind, (op, limit) in NEGATIVE.items():
        sel = (fb.kind == kind).to_numpy() & fb.score.notna().to_numpy()
        s = fb.score.to_numpy()
        neg |= sel & ((s <= limit) if op == "<=" else (s >= limit))
    fb["negative"] = neg | fb.kind.isin(["complaint"]).to_numpy()
    if len(ev):
        first, last = ev.ts.min(), ev.ts.max()
    else:
        first = last = pd.Timestamp("2000-01-03")
    t0 = first.normalize() - pd.Timedelta(days=first.weekday())
    periods = int((last - t0) // WEEK) + 1
    months = max((last - first).total_seconds() / 86400 / 30.44, 1 / 30.44)
    return JourneyFrame(ev, segment, fb, t0, periods, months, tuple(conversions))


def shifted(values: np.ndarray, pid: np.ndarray, k: int, fill=None) -> np.ndarray:
    """values[i - k] when row i - k belongs to the same person, else ``fill``."""
    out = np.empty(len(values), dtype=object if fill is None else np.asarray(values).dtype)
    out[:] = fill
    if k < len(values):
        same = pid[k:] == pid[:-k]
        out[k:][same] = np.asarray(values)[:-k][same]
    return out
