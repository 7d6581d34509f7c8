"""Voice of the customer: NPS, CSAT and CES, with breakdowns, trends and an emotion score.

Definitions (rows of the canonical ``feedback`` table, ``since <= timestamp < until``; a
score outside its kind's scale is ignored):

* NPS (kind ``nps``, 0–10): promoters score 9–10, detractors 0–6, passives 7–8;
  ``NPS = 100 × (promoters − detractors) / n``. Its 95 % confidence interval is the normal
  approximation ``NPS ± 1.96 × 100 × sqrt((p + d − (p − d)²) / n)`` with p and d the
  promoter and detractor shares (the variance of one answer coded +1 / 0 / −1), clipped to
  [−100, 100]. It is null when n = 0; it is a poor approximation for small n or shares
  near 0 or 1.
* CSAT (kind ``csat``, 1–5): ``score`` = 100 × share of answers 4–5; ``mean`` = mean answer.
* CES (kind ``ces``, 1–7): ``mean`` = mean effort answer (lower is better).
* ``counts``: number of rows per kind (all kinds, with or without a score);
  ``distribution``: number of answers per score value, per kind.

Breakdowns (``by``):

* ``channel`` / ``touchpoint``: the feedback row's own column;
* ``stage``: the stage of the answering person's latest ``journey_view`` event with a
  stage at or before the answer's timestamp (ties broken by ``seq``). The feedback's
  ``customer_id`` is matched to the view's ``person_id`` through the view's
  ``customer_id`` (stitched identities), or directly when the view does not know it;
* ``segment`` or any other name (or ``attributes.NAME``): the customer's attribute in
  ``customers.attributes``, as text.

Rows without a group value are in the group ``None``, last; stages come in the journey's
order, other groups by name.

Trends (``period``): the same measures per calendar period in UTC (day; ISO week from
Monday; month) and, with ``by``, per group.

Emotion (``emotion`` in every summary; per stage or touchpoint, in the journey's order, by
:func:`emotion_by` for the map's emotion curve): every scored answer is mapped to [−1, 1] — NPS promoter +1,
passive 0, detractor −1 (so the mean is NPS / 100); CSAT and review ``(s − 3) / 2``; CES
``(4 − s) / 3`` (1 = no effort = +1, 7 = −1) — and the emotion of a stage (or touchpoint)
is the mean over all its answers, so each kind weighs by its number of answers.

Verbatims: every non-empty ``text`` (of any kind) gets a sentiment score in [−1, 1] from
``text_scores``: by default (``"model"``) the offline French/English model of
:mod:`parcours.predict.sentiment`; else a mapping ``feedback_id -> score`` or a callable
taking the list of texts and the list of their languages and returning one score (or None)
per text; ``None`` turns text analysis off. The scores appear as ``text`` (n, mean) in the
summaries and count as answers in the emotion score; ``verbatims`` adds, over all texts in
range, the count per label (negative/neutral/positive) and the themes of
:mod:`parcours.predict.themes`, each with its share, mean sentiment and examples.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd

from ..data.schema import FEEDBACK_SCALES
from ..errors import AnalysisError
from ._common import JOURNEY, as_time, attribute_name, choice, json_ready
from .journey_codes import available as codes_available, use_codes

__all__ = ["FeedbackResult", "EmotionResult", "feedback", "emotion_by", "summarise", "answer_emotion",
           "verbatims_summary", "emotion_of", "PERIODS", "Z95", "MODEL"]

PERIODS = ("day", "week", "month")
#: ``text_scores`` value naming the built-in sentiment model.
MODEL = "model"
Z95 = 1.959963984540054
SCORED = ("nps", "csat", "ces", "review")

TextScores = Mapping[str, float] | Callable[[Sequence[str], Sequence[str | None]], Sequence[float | None]]


# -- measures from a distribution -----------------------------------------------------------
def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _dist(d: Mapping[float, int]) -> list[dict]:
    return [{"score": _num(s), "count": int(c)} for s, c in sorted(d.items())]


def nps_measures(dist: Mapping[float, int]) -> dict:
    n = sum(dist.values())
    prom = sum(c for s, c in dist.items() if s >= 9)
    det = sum(c for s, c in dist.items() if s <= 6)
    out = {"n": n, "promoters": prom, "passives": n - prom - det, "detractors": det,
           "score": None, "ci_low": None, "ci_high": None, "distribution": _dist(dist)}
    if n:
        p, d = prom / n, det / n
        half = Z95 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        out.update(score=100 * (p - d), ci_low=100 * max(p - d - half, -1.0),
                   ci_high=100 * min(p - d + half, 1.0))
    return out


def csat_measures(dist: Mapping[float, int]) -> dict:
    n = sum(dist.values())
    sat = sum(c for s, c in dist.items() if s >= 4)
    return {"n": n, "satisfied": sat, "score": 100 * sat / n if n else None,
            "mean": sum(s * c for s, c in sorted(dist.items())) / n if n else None, "distribution": _dist(dist)}


def mean_measures(dist: Mapping[float, int]) -> dict:
    n = sum(dist.values())
    return {"n": n, "mean": sum(s * c for s, c in sorted(dist.items())) / n if n else None,
            "distribution": _dist(dist)}


def summarise(dists: Mapping[str, Mapping[float, int]], counts: Mapping[str, int],
              text: Sequence[float] | None = None) -> dict:
    """The measures of one set of answers: ``dists[kind][score] = answers``."""
    out = {
        "nps": nps_measures(dists.get("nps", {})),
        "csat": csat_measures(dists.get("csat", {})),
        "ces": mean_measures(dists.get("ces", {})),
        "review": mean_measures(dists.get("review", {})),
        "counts": {k: int(v) for k, v in sorted(counts.items())},
    }
    if text is not None:
        out["text"] = {"n": len(text), "mean": sum(text) / len(text) if text else None}
    score, answers, _ = emotion_of(dists, text)
    out["emotion"] = {"score": score, "answers": answers}
    return out


def emotion_of(dists: Mapping[str, Mapping[float, int]], text: Sequence[float] | None = None):
    """(emotion in [−1, 1] or None, answers counted, mean per kind and ``text``) of one set of answers."""
    comp: dict = {}
    total, n_all = 0.0, 0
    for kind in SCORED:
        d = dists.get(kind, {})
        n = sum(d.values())
        s = sum(answer_emotion(kind, sc) * c for sc, c in sorted(d.items()))
        comp[kind] = s / n if n else None
        total, n_all = total + s, n_all + n
    t = text or []
    comp["text"] = sum(t) / len(t) if t else None
    total, n_all = total + sum(t), n_all + len(t)
    return (total / n_all if n_all else None), n_all, comp


def answer_emotion(kind: str, score: float) -> float:
    """One answer mapped to [−1, 1] (see the module doc)."""
    if kind == "nps":
        return 1.0 if score >= 9 else (-1.0 if score <= 6 else 0.0)
    if kind in ("csat", "review"):
        return (score - 3) / 2
    if kind == "ces":
        return (4 - score) / 3
    raise AnalysisError(f"no emotion scale for feedback kind {kind!r}")


# -- loading ------------------------------------------------------------------------------
# The stage of an answer: the answering person is found through the events that carry the
# answer's customer_id (stitched identities), else is the customer_id itself; the stage is
# that of their latest staged event at or before the answer (ties: the later seq).
_STAGE_PORTABLE = f""",
        pm AS (
            SELECT j.customer_id, min(j.person_id) AS person_id FROM {JOURNEY} j
            WHERE j.customer_id IN (SELECT customer_id FROM fb) GROUP BY j.customer_id),
        fp AS (
            SELECT fb.fid, fb."timestamp", coalesce(pm.person_id, fb.customer_id) AS person
            FROM fb LEFT JOIN pm ON pm.customer_id = fb.customer_id),
        st AS (
            SELECT fp.fid, j.stage FROM fp JOIN {JOURNEY} j
              ON j.person_id = fp.person AND j."timestamp" <= fp."timestamp" AND j.stage IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY fp.fid ORDER BY j."timestamp" DESC, j.seq DESC) = 1)"""
#: the same over the clustered codes (journey_events, persons, dim_stage), skipping the view's
#: joins to names and raw events; tests check both give the same groups.
_STAGE_FAST = """,
        pm AS (
            SELECT e.customer_id, min(p.person_id) AS person_id
            FROM events e JOIN journey_events j ON j.seq = e._seq JOIN persons p ON p.person_key = j.person_key
            WHERE e.customer_id IN (SELECT customer_id FROM fb) GROUP BY e.customer_id),
        fp AS (
            SELECT fb.fid, epoch_us(fb."timestamp") AS ts, p.person_key
            FROM fb LEFT JOIN pm ON pm.customer_id = fb.customer_id
            JOIN persons p ON p.person_id = coalesce(pm.person_id, fb.customer_id)),
        st AS (
            SELECT fp.fid, ds.id AS stage FROM fp
              JOIN journey_events j ON j.person_key = fp.person_key AND j.ts <= fp.ts AND j.stage IS NOT NULL
              JOIN dim_stage ds ON ds.stage = j.stage
            QUALIFY row_number() OVER (PARTITION BY fp.fid ORDER BY j.ts DESC, j.seq DESC) = 1)"""


def _group_sql(by: str | None, fast: bool = False) -> tuple[str, str, list]:
    """(group expression over ``fb``, extra CTEs, their params); ``fast`` reads journey_events."""
    if by is None:
        return "CAST(NULL AS VARCHAR)", "", []
    if by in ("channel", "touchpoint"):
        return f"fb.{by}", "", []
    if by == "stage":
        return "st.stage", _STAGE_FAST if fast else _STAGE_PORTABLE, []
    name = attribute_name(by) or by
    if not name:
        raise AnalysisError(f"invalid by {by!r}: expected stage, touchpoint, channel, segment or a customer attribute")
    path = '$."' + name.replace('"', '\\"') + '"'
    return ("(SELECT json_extract_string(c.attributes, ?) FROM customers c "
            "WHERE c.customer_id = fb.customer_id LIMIT 1)"), "", [path]


def _text_scorer(text_scores):
    """The callable or mapping behind ``text_scores`` ("model" is the built-in model)."""
    if isinstance(text_scores, str):
        if text_scores != MODEL:
            raise AnalysisError(f"text_scores must be {MODEL!r}, a mapping, a callable or None, not {text_scores!r}")
        from ..predict.sentiment import score_texts

        return score_texts
    return text_scores


def _load(store, by, since, until, period, text_scores, engine="auto"):
    """Distributions per (period, group), row counts per kind, text scores per (period, group)
    and the scored verbatims as (text, score) in row order."""
    text_scores = _text_scorer(text_scores)
    if period is not None:
        choice("period", period, PERIODS)
    lo, hi = as_time(since), as_time(until)
    where, params = ["TRUE"], []
    if lo is not None:
        where.append('f."timestamp" >= ?')
        params.append(lo)
    if hi is not None:
        where.append('f."timestamp" < ?')
        params.append(hi)
    fast = by == "stage" and use_codes(store, engine)
    if by == "stage" and not fast and not store.has_table(JOURNEY):
        raise AnalysisError(f"by=stage needs the {JOURNEY} view: build the journeys first")
    grp, cte, gparams = _group_sql(by, fast)
    per = f"CAST(date_trunc('{period}', fb.\"timestamp\") AS DATE)" if period else "CAST(NULL AS DATE)"
    scale = " OR ".join(f"(kind = '{k}' AND score BETWEEN {lo_} AND {hi_})"
                        for k, (lo_, hi_) in FEEDBACK_SCALES.items())
    base = f"""
        WITH fb AS MATERIALIZED (
            SELECT f.*, row_number() OVER (ORDER BY f."timestamp", f.feedback_id, f.kind, f.score, f.text) AS fid
            FROM feedback f WHERE {' AND '.join(where)}){cte},
        g AS (SELECT fb.fid, fb.feedback_id, fb.kind, fb.score, fb.text, fb.language,
                     {per} AS period, {grp} AS grp FROM fb{" LEFT JOIN st ON st.fid = fb.fid" if by == "stage" else ""})"""
    all_params = params + gparams
    rows = store.fetch(base + f"""
        SELECT period, grp, kind, CASE WHEN {scale} THEN score END AS s, count(*)
        FROM g GROUP BY ALL""", all_params)
    # dists[(period, group)][kind][score] = n ; counts[(period, group)][kind] = rows
    dists: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    counts: dict = defaultdict(lambda: defaultdict(int))
    for p, g, kind, s, n in rows:
        counts[(p, g)][kind] += n
        if s is not None and kind in SCORED:
            dists[(p, g)][kind][float(s)] += n
    texts: dict = defaultdict(list) if text_scores is not None else None
    verbatims: list = []
    if text_scores is not None:
        trows = store.fetch(base + " SELECT period, grp, feedback_id, text, language FROM g "
                            "WHERE text IS NOT NULL AND text <> '' ORDER BY fid", all_params)
        if callable(text_scores):
            scores = list(text_scores([r[3] for r in trows], [r[4] for r in trows])) if trows else []
            if len(scores) != len(trows):
                raise AnalysisError("text_scores must return one score per text")
        else:
            scores = [text_scores.get(r[2]) for r in trows]
        for r, sc in zip(trows, scores):
            if sc is not None and not (isinstance(sc, float) and math.isnan(sc)):
                sc = max(-1.0, min(1.0, float(sc)))
                texts[(r[0], r[1])].append(sc)
                verbatims.append((r[3], sc))
    return dists, counts, texts, verbatims


def _merge(keys, dists, counts, texts):
    d: dict = defaultdict(lambda: defaultdict(int))
    c: dict = defaultdict(int)
    t = [] if texts is not None else None
    for k in keys:
        for kind, dd in dists.get(k, {}).items():
            for s, n in dd.items():
                d[kind][s] += n
        for kind, n in counts.get(k, {}).items():
            c[kind] += n
        if texts is not None:
            t.extend(texts.get(k, []))
    return d, c, t


def _stage_order(store, by) -> dict:
    """stage -> its index in the journey model, so stages sort in the journey's order."""
    if by != "stage":
        return {}
    if codes_available(store):
        return dict(store.fetch("SELECT id, stage FROM dim_stage"))
    if not store.has_table(JOURNEY):
        return {}
    return dict(store.fetch(f"SELECT stage, min(stage_index) FROM {JOURNEY} WHERE stage IS NOT NULL GROUP BY stage"))


def _sort_key(v, order: Mapping | None = None):
    """Groups by journey order when known (stages), then by name; None last."""
    o = (order or {}).get(v)
    return (v is None, o is None, 0 if o is None else o, "" if v is None else str(v))


# -- results ------------------------------------------------------------------------------
@dataclass
class FeedbackResult:
    by: str | None
    period: str | None
    #: measures over every answer in range (see :func:`summarise`).
    overall: dict = field(default_factory=dict)
    #: [{"group": value, **measures}] when ``by`` is given.
    groups: list[dict] = field(default_factory=list)
    #: [{"period": ISO date, "group": value (with by), **measures}] when ``period`` is given.
    trend: list[dict] = field(default_factory=list)
    #: texts' sentiment labels and themes (see :func:`verbatims_summary`); None without text analysis.
    verbatims: dict | None = None

    def to_dict(self) -> dict:
        return {"by": self.by, "period": self.period, "overall": self.overall,
                "groups": self.groups, "trend": self.trend, "verbatims": self.verbatims}

    def to_frame(self) -> pd.DataFrame:
        """One row per scope: overall, each group, each (period, group); headline measures only."""
        cols = ["scope", "period", "group", "nps", "nps_ci_low", "nps_ci_high", "nps_n",
                "csat", "csat_mean", "csat_n", "ces", "ces_n", "emotion"]

        def flat(scope, m, period=None, group=None):
            return {"scope": scope, "period": period, "group": group,
                    "nps": m["nps"]["score"], "nps_ci_low": m["nps"]["ci_low"],
                    "nps_ci_high": m["nps"]["ci_high"], "nps_n": m["nps"]["n"],
                    "csat": m["csat"]["score"], "csat_mean": m["csat"]["mean"], "csat_n": m["csat"]["n"],
                    "ces": m["ces"]["mean"], "ces_n": m["ces"]["n"], "emotion": m["emotion"]["score"]}

        rows = [flat("overall", self.overall)] if self.overall else []
        rows += [flat("group", g, group=g["group"]) for g in self.groups]
        rows += [flat("trend", t, period=t["period"], group=t.get("group")) for t in self.trend]
        return pd.DataFrame(rows, columns=cols)


def verbatims_summary(verbatims: Sequence[tuple[str, float]]) -> dict:
    """Scored texts: count per sentiment label, mean score, and their themes."""
    from ..predict.sentiment import default_model
    from ..predict.themes import summarise_themes

    texts = [t for t, _ in verbatims]
    scores = [s for _, s in verbatims]
    labels = [default_model().label(s) for s in scores]
    return {"n": len(texts), "mean": sum(scores) / len(scores) if scores else None,
            **{k: labels.count(k) for k in ("negative", "neutral", "positive")},
            "themes": summarise_themes(texts, scores, labels)}


def feedback(store, by: str | None = None, since=None, until=None, period: str | None = None,
             text_scores: TextScores | str | None = "model", *, engine: str = "auto") -> FeedbackResult:
    """NPS (with its 95 % CI), CSAT, CES and counts, overall, per group and per period.

    ``engine`` (for ``by="stage"``): ``codes`` reads journey_events, ``portable`` journey_view
    (same numbers); ``auto`` takes codes when the journey tables exist."""
    dists, counts, texts, verbatims = _load(store, by, since, until, period, text_scores, engine)
    keys = list(counts)
    result = FeedbackResult(by, period)
    if texts is not None:
        result.verbatims = verbatims_summary(verbatims)
    result.overall = summarise(*_merge(keys, dists, counts, texts))
    order = _stage_order(store, by)
    if by is not None:
        groups = sorted({g for _, g in keys}, key=lambda g: _sort_key(g, order))
        for g in groups:
            m = summarise(*_merge([k for k in keys if k[1] == g], dists, counts, texts))
            result.groups.append({"group": g, **m})
    if period is not None:
        for p, g in sorted(keys, key=lambda k: (k[0], _sort_key(k[1], order))):
            m = summarise(*_merge([(p, g)], dists, counts, texts))
            row = {"period": json_ready(p)}
            if by is not None:
                row["group"] = g
            result.trend.append({**row, **m})
    return result


@dataclass
class EmotionResult:
    by: str
    #: [{"group", "order", "emotion", "answers", "nps", "csat", "ces", "review", "text"}]:
    #: emotion in [−1, 1] and each component's mean on the same scale (None without answers);
    #: for stages in the journey's order (``order`` = the stage index), else by name.
    points: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"by": self.by, "points": self.points}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.points, columns=["group", "order", "emotion", "answers",
                                                  "nps", "csat", "ces", "review", "text"])


def emotion_by(store, by: str = "stage", since=None, until=None,
               text_scores: TextScores | str | None = "model", *, engine: str = "auto") -> EmotionResult:
    """An emotion score in [−1, 1] per stage or touchpoint, for the journey map's curve."""
    choice("by", by, ("stage", "touchpoint"))
    dists, counts, texts, _ = _load(store, by, since, until, None, text_scores, engine)
    order = _stage_order(store, by)
    result = EmotionResult(by)
    for (_, g) in counts:
        if g is None:
            continue  # answers that cannot be placed on the map
        emotion, n_all, comp = emotion_of(dists.get((None, g), {}),
                                          texts.get((None, g), []) if texts is not None else None)
        if n_all == 0:
            continue
        result.points.append({"group": g, "order": order.get(g), "emotion": emotion, "answers": n_all, **comp})
    result.points.sort(key=lambda p: _sort_key(p["group"], order))
    return result
