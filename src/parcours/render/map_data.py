"""The journey map as one serialisable result: the HTML, Markdown and JSON are views of it.

Columns are the journey model's stages in the designed order; each lane is computed from the
data by the analysis that owns it (stage KPIs, paths, feedback emotion, pain points) or read
from ``journey.yaml`` (designed emotion, service-blueprint lanes, recommended actions).
Only what no analysis computes is queried here: the most frequent events and touchpoints
per stage, the declared moments of truth' effect, and the empathy maps' verbatims.
The exact definitions are in ``docs/map.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..analysis._common import JOURNEY, json_ready
from ..errors import AnalysisError, ParcoursError
from .labels import label

__all__ = ["JourneyMap", "journey_map", "designed_vs_lived", "follows_design", "pain_points", "shared_frame",
           "feedback_kpis",
           "LANES", "BLUEPRINT_LANES"]

#: the lanes of a stage column, top to bottom.
BLUEPRINT_LANES = ("frontstage", "backstage", "support_processes", "systems")
LANES = ("actions", "touchpoints", "channels", "emotion", "pain_points", "moments_of_truth", "kpis",
         "moves", *BLUEPRINT_LANES, "opportunities")
#: how many items the actions and touchpoints lanes keep per stage.
TOP = 5
#: an emotion this far below the designed one is a reason to act.
EMOTION_GAP = 0.2
#: how many stage changes the stage Sankey shows.
SANKEY_STEPS = 5
#: how many themes an empathy map lists.
THEMES = 4
#: how many verbatims an empathy map quotes.
VERBATIMS = 3


@dataclass
class JourneyMap:
    journey: str
    title: str
    lang: str
    #: people with at least one staged event.
    customers: int
    #: the saved segment the map is restricted to (None: everyone).
    scope: str | None = None
    #: one dict per stage column (keys: the lanes, plus stage, label, objective, reach).
    stages: list[dict] = field(default_factory=list)
    #: share following the designed path, deviations, loops, backward moves, stage Sankey.
    designed_vs_lived: dict = field(default_factory=dict)
    #: one empathy map per persona (or per segment when no persona is declared).
    empathy: list[dict] = field(default_factory=list)
    #: what could not be computed, and why.
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"journey": self.journey, "title": self.title, "lang": self.lang, "scope": self.scope,
                "customers": self.customers, "lanes": list(LANES), "stages": self.stages,
                "designed_vs_lived": self.designed_vs_lived, "empathy": self.empathy,
                "notes": self.notes}

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: reach, top action, main channel, emotion, KPIs met/missed."""
        rows = []
        for s in self.stages:
            kpis = s["kpis"]
            rows.append({
                "stage": s["stage"], "label": s["label"], "reach": s["reach"],
                "top_action": s["actions"][0]["name"] if s["actions"] else None,
                "main_channel": s["channels"][0]["name"] if s["channels"] else None,
                "emotion": s["emotion"]["measured"], "designed_emotion": s["emotion"]["designed"],
                "kpis_met": sum(k["met"] is True for k in kpis),
                "kpis_missed": sum(k["met"] is False for k in kpis),
                "pain_points": len(s["pain_points"]),
            })
        return pd.DataFrame(rows, columns=["stage", "label", "reach", "top_action", "main_channel", "emotion",
                                           "designed_emotion", "kpis_met", "kpis_missed", "pain_points"])

    def stage(self, stage_id: str) -> dict:
        for s in self.stages:
            if s["stage"] == stage_id:
                return s
        raise KeyError(stage_id)


# -- designed vs lived --------------------------------------------------------------------
def follows_design(model, path: list[str]) -> bool:
    """A stage sequence (consecutive repeats collapsed) follows the design when it starts at
    the first designed stage and every move is forward or an allowed move."""
    if not path or path[0] != model.path_order[0]:
        return False
    return all(model.move_kind(a, b) in ("forward", "allowed") for a, b in zip(path, path[1:]))


def _deviations(model, path: list[str]) -> set[tuple[str, str | None, str]]:
    """The (kind, from, to) deviations of one stage sequence, each counted once per person."""
    out = set()
    if path and path[0] != model.path_order[0]:
        out.add(("late_start", None, path[0]))
    for a, b in zip(path, path[1:]):
        kind = model.move_kind(a, b)
        if kind in ("skip", "backward"):
            out.add((kind, a, b))
    return out


def designed_vs_lived(store, model, lang: str = "fr", top: int = 8) -> dict:
    """Share of journeys following the designed path, the main deviations, loops and backward
    moves, and the stage Sankey, all from :func:`parcours.analysis.paths.paths` by stage."""
    from ..analysis.paths import paths

    res = paths(store, by="stage", top=2**31 - 1)
    total = res.customers
    following = sum(v["customers"] for v in res.variants if follows_design(model, v["path"]))
    dev: dict = {}
    for v in res.variants:
        for d in _deviations(model, v["path"]):
            dev[d] = dev.get(d, 0) + v["customers"]
    deviations = [
        {"kind": k, "from": a, "to": b, "customers": n, "share": n / total if total else None,
         "label": _move_label(model, k, a, b, lang)}
        for (k, a, b), n in sorted(dev.items(), key=lambda x: (-x[1], x[0][0], str(x[0][1]), x[0][2]))
    ][:top]
    sankey = _shallow(res.sankey(), SANKEY_STEPS)
    sankey["node"]["label"] = [_stage_label(model, s, lang) for s in sankey["node"]["label"]]
    return {
        "customers": total,
        "following": following,
        "share": following / total if total else None,
        "deviations": deviations,
        "loops": res.to_dict()["loops"],
        "backward_moves": res.to_dict()["backward_moves"],
        "sankey": sankey,
    }


def _shallow(sankey: dict, steps: int) -> dict:
    """The Sankey's first ``steps`` stage changes: deeper ones are too thin to read."""
    node = sankey["node"]
    keep = [i for i, st in enumerate(node["step"]) if st < steps]
    new = {old: k for k, old in enumerate(keep)}
    link = {"source": [], "target": [], "value": []}
    for a, b, v in zip(sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"]):
        if a in new and b in new:
            link["source"].append(new[a])
            link["target"].append(new[b])
            link["value"].append(v)
    return {"node": {"label": [node["label"][i] for i in keep], "step": [node["step"][i] for i in keep]},
            "link": link}


def _stage_label(model, sid: str | None, lang: str) -> str:
    if sid is None:
        return ""
    try:
        return model.label(sid, lang)
    except ParcoursError:
        return sid


def _move_label(model, kind, a, b, lang) -> str:
    head = label(f"move.{kind}", lang)
    if a is None:
        return f"{head}: {_stage_label(model, b, lang)}"
    return f"{head}: {_stage_label(model, a, lang)} → {_stage_label(model, b, lang)}"


# -- lanes computed here ------------------------------------------------------------------
#: every staged event with its names, from the clustered integer table of the journey layer
#: (``journey_events``): 5 to 10 times faster than ``journey_view``, which joins the raw events.
EVENTS = """SELECT j.person_key AS person, j.ts, j.seq, ds.id AS stage, de.name AS event, dt.name AS touchpoint
    FROM journey_events j JOIN dim_stage ds ON ds.stage = j.stage
    LEFT JOIN dim_event de ON de.code = j.event_code LEFT JOIN dim_touchpoint dt ON dt.code = j.touchpoint_code"""


def _top_items(store) -> dict[tuple[str, str], list[dict]]:
    """(stage, "actions"|"touchpoints") -> the most frequent events / touchpoints, with their
    count, share of the stage's events and people; ties broken by name."""
    rows = store.fetch(f"""
        WITH j AS ({EVENTS}),
        tot AS (SELECT stage, count(*) AS n FROM j GROUP BY stage),
        items AS (
            SELECT stage, 'actions' AS lane, event AS name, count(*) AS n, count(DISTINCT person) AS people
            FROM j GROUP BY ALL
            UNION ALL
            SELECT stage, 'touchpoints', touchpoint, count(*), count(DISTINCT person)
            FROM j WHERE touchpoint IS NOT NULL GROUP BY ALL),
        ranked AS (SELECT items.*, tot.n AS total,
                          row_number() OVER (PARTITION BY items.stage, lane ORDER BY items.n DESC, name) AS k
                   FROM items JOIN tot USING (stage))
        SELECT stage, lane, name, n, people, total FROM ranked WHERE k <= {TOP} ORDER BY stage, lane, k""")
    out: dict = {}
    for stage, lane, name, n, people, total in rows:
        out.setdefault((stage, lane), []).append(
            {"name": name, "count": int(n), "share": n / total, "people": int(people)})
    return out


def _moments_of_truth(store, model) -> dict[str, list[dict]]:
    """For each declared moment of truth (an event or touchpoint name of a stage): among the
    people who reached the stage, the share who went on to a later stage of the designed
    order (after their first event of the stage), with and without it in that stage."""
    order = model.path_order
    decl = [(sid, name) for sid in order for name in model.stage(sid).moments_of_truth]
    if not decl:
        return {}
    ranks = ", ".join(f"('{_q(s)}', {i})" for i, s in enumerate(order))
    mots = ", ".join(f"('{_q(s)}', '{_q(n)}')" for s, n in decl)
    rows = store.fetch(f"""
        WITH ranks(stage, rank) AS (VALUES {ranks}),
        mot(stage, name) AS (VALUES {mots}),
        ev AS (
            SELECT j.person, j.stage, j.event, j.touchpoint, r.rank,
                   max(r.rank) OVER (PARTITION BY j.person ORDER BY j.ts DESC, j.seq DESC
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS later_rank,
                   row_number() OVER (PARTITION BY j.person, j.stage ORDER BY j.ts, j.seq) AS k
            FROM ({EVENTS}) j JOIN ranks r USING (stage)),
        reached AS (SELECT person, stage, later_rank > rank AS went_on FROM ev WHERE k = 1),
        had AS (SELECT DISTINCT ev.person, mot.stage, mot.name FROM ev JOIN mot
                ON ev.stage = mot.stage AND (ev.event = mot.name OR ev.touchpoint = mot.name))
        SELECT mot.stage, mot.name,
               count(had.person) AS with_n,
               count(had.person) FILTER (WHERE went_on) AS with_on,
               count(*) FILTER (WHERE had.person IS NULL) AS without_n,
               count(*) FILTER (WHERE had.person IS NULL AND went_on) AS without_on
        FROM reached JOIN mot USING (stage)
        LEFT JOIN had ON had.person = reached.person AND had.stage = mot.stage AND had.name = mot.name
        GROUP BY ALL""")
    got = {(s, n): r for s, n, *r in rows}
    last = order[-1]
    out: dict = {}
    for sid, name in decl:
        with_n, with_on, without_n, without_on = got.get((sid, name), (0, 0, 0, 0))
        rate_with = with_on / with_n if with_n and sid != last else None
        rate_without = without_on / without_n if without_n and sid != last else None
        lift = rate_with - rate_without if rate_with is not None and rate_without is not None else None
        out.setdefault(sid, []).append({
            "name": name, "people_with": int(with_n), "people_without": int(without_n),
            "went_on_with": rate_with, "went_on_without": rate_without, "lift": lift})
    return out


def measured_moments(store, top: int = 3, frame=None) -> dict[str, list[dict]]:
    """The data's own moments of truth (``parcours moments``: effect on conversion adjusted for
    progress), the significant ones, in the stage where each is met most, strongest first."""
    from ..analysis.moments import moments_of_truth

    try:
        result = moments_of_truth(store, frame=frame)
    except AnalysisError:
        return {}
    out: dict[str, list[dict]] = {}
    for m in sorted(result.moments, key=lambda m: -abs(m.effect)):
        if m.significant and m.stage is not None:
            out.setdefault(m.stage, []).append({"name": m.touchpoint, "effect": m.effect, "low": m.low,
                                                "high": m.high, "exposed": m.exposed})
    return {sid: found[:top] for sid, found in out.items()}


def _q(s: str) -> str:
    return str(s).replace("'", "''")


def shared_frame(store):
    """The journeys read once for both the pain points and the data's moments of truth (their
    default conversions); None when they cannot be read (each lane then says why itself)."""
    from ..analysis.journey_frame import CONVERSIONS, load

    try:
        return load(store, CONVERSIONS)
    except AnalysisError:
        return None


def pain_points(store, lang: str = "fr", frame=None) -> tuple[list[dict], str | None]:
    """The pain-point analysis's findings, ranked, each with a readable title; none and a
    note when the analysis is not installed or fails (the map is still worth reading)."""
    try:
        from ..analysis.painpoints import painpoints
    except ImportError:
        return [], label("note.painpoints_missing", lang)
    try:
        result = painpoints(store, frame=frame)
    except Exception as exc:  # noqa: BLE001 - one lane must not break the whole map
        return [], label("note.painpoints_failed", lang, error=exc)
    out = []
    for rank, p in enumerate(result.painpoints, 1):
        d = p.to_dict()
        place = [str(d[k]) for k in ("event", "touchpoint", "channel", "segment") if d.get(k)]
        d["rank"] = rank
        d["title"] = p.label(lang) + (f" ({', '.join(place)})" if place else "")
        out.append(d)
    return out, None


def _emotions(store, lang, scores) -> tuple[dict, str | None]:
    from ..analysis.feedback import emotion_by

    try:
        return {p["group"]: p for p in emotion_by(store, by="stage", text_scores=scores).points}, None
    except ParcoursError as exc:
        return {}, label("note.feedback_failed", lang, error=exc)


def feedback_kpis(store, kpis) -> None:
    """Declared NPS and CSAT KPIs that stage KPIs leave unmeasured, from the feedback analysis
    (all answers of the period: survey answers are rarely given in the stage they judge)."""
    from ..analysis.feedback import feedback

    wanted = [k for s in kpis.stages for k in s["kpis"] if k["metric"] in ("nps", "csat") and k["value"] is None]
    if not wanted:
        return
    try:
        overall = feedback(store).overall
    except ParcoursError:
        return
    for k in wanted:
        score = overall[k["metric"]]["score"]
        if score is None:
            continue
        # a CSAT target written as a share (0.8) is compared with the share, not the percentage
        value = score / 100 if k["metric"] == "csat" and k["target"] <= 1 else score
        met = value >= k["target"] if k["direction"] == "higher" else value <= k["target"]
        k.update(value=value, met=bool(met), source="feedback")
        k.pop("note", None)


def _opportunities(stage, lang) -> dict:
    """The stage's recommended actions (journey.yaml, from DOMAIN.md section 6) and the
    measured reasons to act on them; priority is the number of reasons."""
    reasons = [label("map.reason.kpi", lang, kpi=k["label"]) for k in stage["kpis"] if k["met"] is False]
    emo = stage["emotion"]
    if emo["measured"] is not None and emo["designed"] is not None and emo["measured"] < emo["designed"] - EMOTION_GAP:
        reasons.append(label("map.reason.emotion", lang, measured=f"{emo['measured']:+.2f}",
                             designed=f"{emo['designed']:+.2f}"))
    reasons += [label("map.reason.pain", lang, title=_pain_title(p)) for p in stage["pain_points"]]
    reasons += [label("map.reason.mot", lang, name=m["name"]) for m in stage["moments_of_truth"]
                if m["lift"] is not None and m["lift"] < 0]
    actions = [a[lang] for p in stage["pain_points"] for a in p.get("actions", []) if a.get(lang)]
    actions = list(dict.fromkeys(actions + stage.pop("_actions")))
    return {"actions": actions, "reasons": reasons, "priority": len(reasons)}


def _pain_title(p: dict) -> str:
    return str(p.get("title") or p.get("kind"))


# -- empathy maps -------------------------------------------------------------------------
def _segment_sql(segment: dict) -> tuple[str, list]:
    """A condition on customers ``c`` matching every key of a persona's segment filter."""
    from ..journey.model import property_text

    conds, params = [], []
    for key, want in segment.items():
        values = want if isinstance(want, list) else [want]
        conds.append(f"json_extract_string(c.attributes, ?) IN ({', '.join('?' for _ in values)})")
        params += ['$."' + key.replace('"', '\\"') + '"'] + [property_text(v) for v in values]
    return (" AND ".join(conds) or "TRUE"), params


def _groups(store, model, lang, persona: str | None) -> list[dict]:
    """Who gets an empathy map: the personas (or the one asked for), else each value of the
    customers' ``segment`` attribute."""
    if model.personas:
        chosen = [p for p in model.personas if persona is None or p.id == persona]
        if persona is not None and not chosen:
            raise AnalysisError(f"unknown persona {persona!r}; personas are: "
                                f"{', '.join(p.id for p in model.personas)}")
        return [{"kind": "persona", "id": p.id, "label": p.labels.get(lang),
                 "description": p.description.get(lang) if p.description else None,
                 "filter": dict(p.segment)} for p in chosen]
    values = [r[0] for r in store.fetch(
        "SELECT DISTINCT json_extract_string(attributes, '$.segment') AS s FROM customers "
        "WHERE s IS NOT NULL ORDER BY s")]
    return [{"kind": "segment", "id": v, "label": v, "description": None, "filter": {"segment": v}}
            for v in values]


def _empathy(store, group: dict, lang: str, scores: dict | None) -> dict:
    """Says (latest verbatims), does (most frequent events), thinks (NPS and verbatim themes),
    feels (mean emotion of scored answers and verbatim sentiment, as the emotion curve)."""
    from ..analysis.feedback import SCORED, answer_emotion, nps_measures
    from ..data.schema import FEEDBACK_SCALES

    cond, params = _segment_sql(group["filter"])
    who = f"SELECT customer_id FROM customers c WHERE {cond}"
    # the persona's people: persons whose (stitched) customer id matches; all their events
    does = store.fetch(f"""
        WITH ev AS (SELECT j.person_key, j.event_code FROM journey_events j WHERE j.person_key IN (
                        SELECT person_key FROM persons WHERE customer_id IN ({who}))),
        agg AS (SELECT event_code, count(*) AS n, count(DISTINCT person_key) AS p FROM ev GROUP BY event_code)
        SELECT de.name, n, p, sum(n) OVER () AS total, (SELECT count(DISTINCT person_key) FROM ev) AS people
        FROM agg JOIN dim_event de ON de.code = agg.event_code ORDER BY n DESC, de.name""", params)
    people = does[0][4] if does else 0
    total = does[0][3] if does else 0
    does = does[:TOP]
    scored = store.fetch(f"""SELECT kind, score, count(*) FROM feedback
        WHERE customer_id IN ({who}) AND score IS NOT NULL GROUP BY ALL""", params)
    texts = store.fetch(f"""SELECT text, feedback_id, kind, score, touchpoint FROM feedback
        WHERE customer_id IN ({who}) AND text IS NOT NULL AND text <> ''
        ORDER BY "timestamp" DESC, feedback_id""", params)
    nps: dict = {}
    emo_sum, emo_n = 0.0, 0
    for kind, score, n in scored:
        lo, hi = FEEDBACK_SCALES.get(kind, (float("-inf"), float("inf")))
        if kind not in SCORED or not lo <= score <= hi:
            continue
        if kind == "nps":
            nps[float(score)] = nps.get(float(score), 0) + n
        emo_sum += answer_emotion(kind, score) * n
        emo_n += n
    themes, sentiment = _text_analysis([t[0] for t in texts], [t[1] for t in texts], scores, lang)
    if sentiment:
        emo_sum += sum(sentiment)
        emo_n += len(sentiment)
    return {
        **{k: group[k] for k in ("kind", "id", "label", "description", "filter")},
        "people": int(people),
        "does": [{"name": e, "count": int(n), "share": n / total if total else None, "people": int(p)}
                 for e, n, p, _, _ in does],
        "says": [{"text": t, "kind": k, "score": json_ready(s), "touchpoint": tp}
                 for t, _, k, s, tp in texts[:VERBATIMS]],
        "thinks": {"nps": nps_measures(nps)["score"], "nps_answers": sum(nps.values()), "themes": themes},
        "feels": {"emotion": emo_sum / emo_n if emo_n else None, "answers": emo_n,
                  "text_sentiment": sum(sentiment) / len(sentiment) if sentiment else None},
    }


def text_scores(store) -> dict | None:
    """Every verbatim's sentiment by ``feedback_id``, scored once by the feedback analysis's
    model (the emotion curve and the empathy maps read the same scores); None without it."""
    try:
        from ..predict.sentiment import score_texts
    except ImportError:
        return None
    rows = store.fetch("SELECT feedback_id, text, language FROM feedback WHERE text IS NOT NULL AND text <> ''")
    return dict(zip((r[0] for r in rows), score_texts([r[1] for r in rows], [r[2] for r in rows])))


def _text_analysis(texts: list[str], ids: list, scores: dict | None, lang: str) -> tuple[list[dict], list[float]]:
    """The verbatims' themes (most mentioned first) and sentiment scores; none without the
    text models."""
    if not texts or scores is None:
        return [], []
    from ..predict.sentiment import default_model
    from ..predict.themes import summarise_themes

    kept = [(t, scores[i]) for t, i in zip(texts, ids) if scores.get(i) is not None]
    texts, values = [t for t, _ in kept], [v for _, v in kept]
    model = default_model()
    summary = summarise_themes(texts, values, [model.label(x) for x in values])
    summary.sort(key=lambda t: (-t["verbatims"], t["theme"]))
    return ([{"theme": t["theme"], "label": t.get(f"label_{lang}", t["theme"]),
              "verbatims": t["verbatims"], "share": t["share"], "sentiment": t["sentiment"]}
             for t in summary[:THEMES]], values)


# -- the map ------------------------------------------------------------------------------
def journey_map(store, model, *, lang: str = "fr", persona: str | None = None,
                scope: str | None = None, kpis=None, pains=None, frame=None) -> JourneyMap:
    """The journey map of ``model`` over the store's journeys (see the module doc).

    ``persona`` keeps one persona's empathy map. To map a saved segment, call this inside
    ``segment_scope`` and name it in ``scope`` (shown in the title).
    ``kpis`` (a StageKpisResult) and ``pains`` (``(findings, note)`` of :func:`pain_points`)
    let the report pass what it already computed, and ``frame`` (:func:`shared_frame`) the
    journeys it already read.
    """
    from ..analysis.kpis import stage_kpis

    if not (store.has_table(JOURNEY) and store.has_table("journey_events")):
        raise AnalysisError("no journey tables: run the stage assignment (parcours refresh) first")
    groups = _groups(store, model, lang, persona)  # an unknown persona fails before the work
    if kpis is None:
        kpis = stage_kpis(store, model, lang=lang)
        feedback_kpis(store, kpis)
    dvl = designed_vs_lived(store, model, lang)
    top = _top_items(store)
    mots = _moments_of_truth(store, model)
    frame = frame or shared_frame(store)
    measured = measured_moments(store, frame=frame)
    scores = text_scores(store)
    emotions, emo_note = _emotions(store, lang, scores)
    pains, pain_note = pain_points(store, lang, frame) if pains is None else pains
    backs = dvl["backward_moves"]
    loops = {r["item"]: r for r in dvl["loops"]}
    title = model.labels.get(lang) if model.labels else model.name
    if scope:
        title = f"{title} · {scope}"
    result = JourneyMap(model.name, title, lang, dvl["customers"], scope=scope)
    result.notes += [n for n in (emo_note, pain_note) if n]
    for k, sid in enumerate(model.path_order):
        st = model.stage(sid)
        ks = kpis.stage(sid)
        mix = ks["channel_mix"]
        emo = emotions.get(sid)
        nxt = model.path_order[k + 1] if k + 1 < len(model.path_order) else None
        column = {
            "stage": sid,
            "label": st.labels.get(lang),
            "objective": st.objective.get(lang) if st.objective else None,
            "status": st.status,
            "reach": ks["reach"],
            "actions": top.get((sid, "actions"), []),
            "touchpoints": top.get((sid, "touchpoints"), []),
            "channels": [{"name": c, "share": s} for c, s in list(mix.items())[:TOP]],
            "emotion": {
                "measured": emo["emotion"] if emo else None,
                "answers": emo["answers"] if emo else 0,
                "designed": st.emotion.score if st.emotion else None,
                "designed_label": st.emotion.label.get(lang) if st.emotion else None,
            },
            "pain_points": [p for p in pains if p.get("stage") == sid],
            "moments_of_truth": mots.get(sid, []),
            "moments_measured": measured.get(sid, []),
            "kpis": ks["kpis"],
            "moves": {
                "next": nxt,
                "conversion": ks["conversion"],
                "backward": [{"to": b["to"], "to_label": _stage_label(model, b["to"], lang),
                              "customers": b["customers"], "count": b["count"]}
                             for b in backs if b["from"] == sid],
                "skips": [{"to": d["to"], "to_label": _stage_label(model, d["to"], lang),
                           "customers": d["customers"]}
                          for d in dvl["deviations"] if d["kind"] == "skip" and d["from"] == sid],
                "loop_customers": loops[sid]["customers"] if sid in loops else 0,
            },
            **{lane: list(getattr(st.backstage, lane)) for lane in BLUEPRINT_LANES},
            "_actions": [a.get(lang) for a in st.actions],
        }
        column["opportunities"] = _opportunities(column, lang)
        result.stages.append(column)
    result.designed_vs_lived = dvl
    for g in groups:
        result.empathy.append(_empathy(store, g, lang, scores))
    return result
