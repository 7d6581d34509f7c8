"""Stage KPIs: the success indicators of each stage of the journey model, measured.

For every stage (in the designed order, ``model.path_order``): reach, events, engagement
(median time in the stage, pages per person, click-through), conversion to the next stage
within the conversion window, repurchase and referral rates, the backward-move rate, the
channel mix, and each KPI declared in ``journey.yaml`` with its value, target and whether it
is met. The exact definitions are in ``docs/kpis.md``.

Everything is computed in DuckDB (a handful of grouped queries over ``journey_view`` and
``stage_history``); only one row per (group, stage) comes back to Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, as_time, attribute_name, json_ready, parse_duration
from .journey_codes import clustered, use_codes

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


# -- SQL ----------------------------------------------------------------------------------
#: journey_view's columns that ``ev`` reads, from journey_events and the small dictionary
#: tables: the person key stands for person_id, and the raw ``events`` are not joined.
_CODES = """(SELECT j.person_key AS person_id, make_timestamp(j.ts) AS "timestamp", j.ts AS ts_us,
        de.name AS event, dc.name AS channel, ds.id AS stage, j.seq, {rowid} AS _row
    FROM journey_events j LEFT JOIN dim_event de ON de.code = j.event_code
    LEFT JOIN dim_channel dc ON dc.code = j.channel_code LEFT JOIN dim_stage ds ON ds.stage = j.stage)"""


def _events_sql(by: str | None, since, until, codes: bool = False, clustered: bool = False) -> tuple[str, list]:
    """``ev``: the events in range with an order number per person and the person's group.

    ``codes`` reads journey_events (person_id is then the integer person key). When it is
    ``clustered`` (stored in person, time order), the row id is already an order number
    within each person, and the window that numbers the rows is not needed."""
    where, params = ["person_id IS NOT NULL"], []
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            where.append(f"ts_us {op} epoch_us(CAST(? AS TIMESTAMP))" if codes else f'"timestamp" {op} ?')
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
        params.insert(0, '$."' + attr.replace('"', '\\"') + '"')
        join = (f"LEFT JOIN persons p ON p.{'person_key' if codes else 'person_id'} = j.person_id "
                "LEFT JOIN customers c ON c.customer_id = p.customer_id")
    else:
        raise AnalysisError(f"by must be channel or attributes.<name>, not {by!r}")
    ord_ = "j._row" if codes and clustered else \
        'row_number() OVER (PARTITION BY j.person_id ORDER BY j."timestamp", j.seq)'
    source = _CODES.format(rowid="j.rowid" if clustered else "NULL") if codes else JOURNEY
    sql = f"""ev AS (
        SELECT j.person_id, j."timestamp" AS ts, j.event, j.channel, j.stage, {grp} AS grp,
               {ord_} AS ord
        FROM (SELECT * FROM {source} WHERE {' AND '.join(where)}) j {join}),
    person_grp AS (SELECT DISTINCT person_id, grp FROM ev)"""
    return sql, params


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


def _history(store, ev: str, params: list, since, until, codes: bool = False) -> pd.DataFrame:
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
        h AS (SELECT {'h.person_key AS person_id' if codes else 'p.person_id'}, ds.id AS stage,
                     h.entered_at, h.left_at,
                     lead(h.move) OVER (PARTITION BY h.person_key ORDER BY h.visit) AS next_move
              FROM stage_history h {'' if codes else 'JOIN persons p USING (person_key)'}
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

    codes = use_codes(store, engine)
    result = StageKpisResult(by, lang, window.total_seconds())
    specs = [(None, None)] + ([(by, "group")] if by is not None else [])
    for spec, kind in specs:
        ev, params = _events_sql(spec, lo, hi, codes, codes and clustered(store))
        counts = _counts(store, ev, params)
        channels = _channels(store, ev, params)
        conv = _conversion(store, ev, params, pairs, window_us)
        hist = _history(store, ev, params, lo, hi, codes)
        if kind is None:
            result.stages = _stage_rows(model, order, lang, counts, channels, conv, hist, None,
                                        repurchase, referral)
            continue
        groups = sorted(counts.grp.dropna().unique().tolist())
        has_null = counts.grp.isna().any()
        for g in groups + ([None] if has_null else []):
            result.breakdown.append({"group": g, "stages": _stage_rows(
                model, order, lang, counts, channels, conv, hist, g, repurchase, referral)})
    return result
