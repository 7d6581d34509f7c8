"""Feedback: NPS, CSAT, CES, distributions, breakdowns, trends and emotion on real stores,
against direct counting in plain Python (hypothesis), plus worked examples."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.analysis.feedback import emotion_by, feedback
from parcours.data.schema import FEEDBACK, FEEDBACK_KINDS
from parcours.errors import AnalysisError

from .conftest import T0, load_customers, load_journey

D = dt.timedelta(days=1)
Z = 1.959963984540054
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "review": (1, 5)}


def load_feedback(store, rows: list[dict]) -> None:
    """Replace the canonical feedback table's rows (missing columns are NULL)."""
    with store.transaction() as con:
        con.execute("DELETE FROM feedback")
        for i, r in enumerate(rows):
            r = {"feedback_id": f"f{i}", **r}
            con.execute(f"INSERT INTO feedback VALUES ({', '.join('?' * len(FEEDBACK.names))})",
                        [r.get(c) for c in FEEDBACK.names])


# -- the reference: direct counting over a list of answers -------------------------------
def ref_measures(rows: list[dict], texts: list[float] | None = None) -> dict:
    """Every measure counted answer by answer, written from the definitions in docs/feedback.md."""
    valid = defaultdict(list)
    for r in rows:
        k, s = r["kind"], r.get("score")
        if k in SCALES and s is not None and SCALES[k][0] <= s <= SCALES[k][1]:
            valid[k].append(s)

    def dist(xs):
        return [{"score": int(s) if float(s).is_integer() else s, "count": xs.count(s)} for s in sorted(set(xs))]

    nps = valid["nps"]
    n = len(nps)
    prom, det = sum(1 for s in nps if s >= 9), sum(1 for s in nps if s <= 6)
    out_nps = {"n": n, "promoters": prom, "passives": n - prom - det, "detractors": det,
               "score": None, "ci_low": None, "ci_high": None, "distribution": dist(nps)}
    if n:
        p, d = prom / n, det / n
        half = Z * math.sqrt((p + d - (p - d) ** 2) / n)
        out_nps.update(score=100 * (p - d), ci_low=100 * max(-1, p - d - half), ci_high=100 * min(1, p - d + half))
    csat = valid["csat"]
    out = {
        "nps": out_nps,
        "csat": {"n": len(csat), "satisfied": sum(1 for s in csat if s >= 4),
                 "score": 100 * sum(1 for s in csat if s >= 4) / len(csat) if csat else None,
                 "mean": sum(csat) / len(csat) if csat else None, "distribution": dist(csat)},
        "ces": {"n": len(valid["ces"]), "mean": sum(valid["ces"]) / len(valid["ces"]) if valid["ces"] else None,
                "distribution": dist(valid["ces"])},
        "review": {"n": len(valid["review"]),
                   "mean": sum(valid["review"]) / len(valid["review"]) if valid["review"] else None,
                   "distribution": dist(valid["review"])},
        "counts": {k: sum(1 for r in rows if r["kind"] == k) for k in sorted({r["kind"] for r in rows})},
    }
    if texts is not None:
        out["text"] = {"n": len(texts), "mean": sum(texts) / len(texts) if texts else None}
    values = [v for v in map(ref_answer_emotion, rows) if v is not None] + list(texts or [])
    out["emotion"] = {"score": sum(values) / len(values) if values else None, "answers": len(values)}
    return out


def ref_answer_emotion(r):
    """One answer on [-1, 1]: NPS promoter +1, passive 0, detractor -1; CSAT/review (s-3)/2; CES (4-s)/3."""
    k, s = r["kind"], r.get("score")
    if k not in SCALES or s is None or not SCALES[k][0] <= s <= SCALES[k][1]:
        return None
    return {"nps": 1.0 if s >= 9 else -1.0 if s <= 6 else 0.0, "csat": (s - 3) / 2,
            "review": (s - 3) / 2, "ces": (4 - s) / 3}[k]


def ref_stage(row, events):
    """The stage of the answering person's latest staged event at or before the answer."""
    persons = [e["person_id"] for e in events if e.get("customer_id", e["person_id"]) == row["customer_id"]]
    person = min(persons) if persons else row["customer_id"]
    seen = [(e["timestamp"], i, e["stage"]) for i, e in enumerate(events)
            if e["person_id"] == person and e["timestamp"] <= row["timestamp"] and e.get("stage") is not None]
    return max(seen)[2] if seen else None


def ref_group(row, by, events, customers):
    if by in ("channel", "touchpoint"):
        return row.get(by)
    if by == "stage":
        return ref_stage(row, events)
    name = by.removeprefix("attributes.")
    return customers.get(row.get("customer_id"), {}).get(name)


def ref_period(ts: dt.datetime, period: str) -> str:
    d = ts.date()
    if period == "week":
        d -= dt.timedelta(days=d.weekday())
    elif period == "month":
        d = d.replace(day=1)
    return d.isoformat()


def reference(rows, by=None, since=None, until=None, period=None, events=(), customers=None, texts=None):
    """The whole result; ``texts`` (feedback_id -> score) adds the text measures."""
    rows = [r for r in rows if (since is None or r["timestamp"] >= since) and (until is None or r["timestamp"] < until)]
    customers = customers or {}
    key = (lambda r: ref_group(r, by, events, customers)) if by else (lambda r: None)
    def sk(g):  # stages in the journey's order, other groups by name; None last
        if by == "stage":
            return (g is None, STAGES.index(g) if g is not None else 0)
        return (g is None, "" if g is None else str(g))
    def measures(sub):
        if texts is None:
            return ref_measures(sub)
        scored = [max(-1.0, min(1.0, texts[r["feedback_id"]])) for r in sub
                  if r.get("text") and texts.get(r["feedback_id"]) is not None]
        return ref_measures(sub, scored)

    out = {"by": by, "period": period, "overall": measures(rows), "groups": [], "trend": [], "verbatims": None}
    if by:
        for g in sorted({key(r) for r in rows}, key=sk):
            out["groups"].append({"group": g, **measures([r for r in rows if key(r) == g])})
    if period:
        cells = sorted({(ref_period(r["timestamp"], period), key(r)) for r in rows}, key=lambda c: (c[0], sk(c[1])))
        for p, g in cells:
            m = measures([r for r in rows if ref_period(r["timestamp"], period) == p and key(r) == g])
            out["trend"].append({"period": p, **({"group": g} if by else {}), **m})
    return out


def rounded(x):
    """Floats to 9 decimals, recursively, so two computations of the same number compare equal."""
    if isinstance(x, float):
        return round(x, 9) + 0.0
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


# -- random answers --------------------------------------------------------------------
scores = st.one_of(st.none(), st.integers(-1, 12).map(float), st.sampled_from([4.5, 8.5, 9.5, 6.5]))
answer = st.builds(
    lambda c, d, h, kind, s, ch, tp: {"customer_id": c, "timestamp": T0 + d * D + h * dt.timedelta(hours=1),
                                      "kind": kind, "score": s, "channel": ch, "touchpoint": tp},
    st.sampled_from(["c1", "c2", "c3", "c4", None]),
    st.integers(-3, 70),
    st.integers(0, 23),
    st.sampled_from(FEEDBACK_KINDS + ("nps", "nps", "csat")),
    scores,
    st.sampled_from(["web", "email", "store", None]),
    st.sampled_from(["checkout", "delivery", "support", None]),
)
answers = st.lists(answer, max_size=30)
bounds = st.one_of(st.none(), st.integers(-2, 72).map(lambda d: T0 + d * D))
STAGES = ["awareness", "consideration", "purchase", "retention"]
staged_event = st.builds(
    lambda p, d, h, s: {"person_id": p, "timestamp": T0 + d * D + h * dt.timedelta(hours=1), "event": "x",
                        "stage": s, "stage_index": None if s is None else STAGES.index(s)},
    st.sampled_from(["c1", "c2", "c3"]),
    st.integers(-3, 70),
    st.sampled_from([0, 6, 12]),
    st.sampled_from(STAGES + [None]),
)


@settings(max_examples=60, deadline=None)
@given(answers, bounds, bounds, st.sampled_from([None, "day", "week", "month"]))
def test_overall_and_trends_equal_direct_counting(shared_store, rows, since, until, period):
    load_feedback(shared_store, rows)
    got = feedback(shared_store, since=since, until=until, period=period, text_scores=None).to_dict()
    assert rounded(got) == rounded(reference(rows, since=since, until=until, period=period))


@settings(max_examples=50, deadline=None)
@given(answers, st.sampled_from(["channel", "touchpoint", "segment", "attributes.country"]),
       st.sampled_from([None, "week"]), st.dictionaries(st.sampled_from(["c1", "c2", "c3"]),
                                                       st.fixed_dictionaries({}, optional={
                                                           "segment": st.sampled_from(["vip", "new"]),
                                                           "country": st.sampled_from(["FR", "BE"])})))
def test_groups_equal_direct_counting(shared_store, rows, by, period, attrs):
    load_feedback(shared_store, rows)
    load_customers(shared_store, [{"customer_id": c, "attributes": a} for c, a in attrs.items()])
    got = feedback(shared_store, by=by, period=period, text_scores=None).to_dict()
    assert rounded(got) == rounded(reference(rows, by=by, period=period, customers=attrs))


@settings(max_examples=60, deadline=None)
@given(answers, st.sampled_from([None, "channel", "touchpoint"]), st.sampled_from([None, "week"]),
       st.dictionaries(st.sampled_from([f"f{i}" for i in range(30)]), st.one_of(st.none(), st.floats(-2, 2))))
def test_text_scores_equal_reference(shared_store, rows, by, period, scores):
    rows = [{**r, "feedback_id": f"f{i}", "text": "t" if i % 3 else ""} for i, r in enumerate(rows)]
    load_feedback(shared_store, rows)
    got = feedback(shared_store, by=by, period=period, text_scores=scores).to_dict()
    want = reference(rows, by=by, period=period, texts=scores)
    assert got.pop("verbatims")["n"] == want["overall"]["text"]["n"]
    want.pop("verbatims")
    assert rounded(got) == rounded(want)


@settings(max_examples=50, deadline=None)
@given(answers, st.lists(staged_event, max_size=20), st.sampled_from([None, "month"]))
def test_stage_groups_equal_reference(shared_store, rows, events, period):
    load_feedback(shared_store, rows)
    load_journey(shared_store, events)
    got = feedback(shared_store, by="stage", period=period, text_scores=None).to_dict()
    assert rounded(got) == rounded(reference(rows, by="stage", period=period, events=events))


def ref_emotion(rows, by, events, texts=None):
    """Mean over every scored answer (and text score) of its value in [-1, 1], per group."""
    vals = defaultdict(list)
    for r in rows:
        g = ref_group(r, by, events, {})
        if g is None:
            continue
        if (v := ref_answer_emotion(r)) is not None:
            vals[g].append(v)
        if texts and r.get("feedback_id") in texts:
            vals[g].append(texts[r["feedback_id"]])
    return {g: (sum(v) / len(v), len(v)) for g, v in vals.items() if v}


@settings(max_examples=60, deadline=None)
@given(answers, st.lists(staged_event, max_size=20), st.sampled_from(["stage", "touchpoint"]),
       st.dictionaries(st.sampled_from([f"f{i}" for i in range(30)]), st.floats(-1, 1)))
def test_emotion_equals_reference(shared_store, rows, events, by, texts):
    rows = [{**r, "feedback_id": f"f{i}", "text": "t" if f"f{i}" in texts else None} for i, r in enumerate(rows)]
    load_feedback(shared_store, rows)
    load_journey(shared_store, events)
    got = emotion_by(shared_store, by=by, text_scores=texts)
    want = ref_emotion(rows, by, events, texts)
    assert {p["group"]: (round(p["emotion"], 9), p["answers"]) for p in got.points} == \
        {g: (round(e, 9), n) for g, (e, n) in want.items()}
    if by == "stage":  # in the journey's order
        assert [p["group"] for p in got.points] == [s for s in STAGES if s in want]


# -- worked examples ---------------------------------------------------------------------
def test_worked_example_nps_csat_ces(shared_store):
    nps = [10, 10, 9, 8, 7, 6, 0, 3, 9, 10]
    rows = [{"timestamp": T0, "kind": "nps", "score": float(s), "channel": "web"} for s in nps]
    rows += [{"timestamp": T0 + D, "kind": "csat", "score": float(s), "channel": "store"} for s in (5, 4, 4, 2, 1)]
    rows += [{"timestamp": T0 + 8 * D, "kind": "ces", "score": float(s), "channel": "web"} for s in (2, 3, 7)]
    rows += [{"timestamp": T0, "kind": "nps", "score": 11.0}, {"timestamp": T0, "kind": "csat", "score": 0.0},
             {"timestamp": T0, "kind": "verbatim", "text": "ok"}]
    load_feedback(shared_store, rows)
    r = feedback(shared_store, text_scores=None, period="week", by="channel")
    o = r.overall
    # 5 promoters, 3 detractors out of 10: NPS 20, variance 0.5 + 0.3 - 0.2² = 0.76
    assert (o["nps"]["n"], o["nps"]["promoters"], o["nps"]["detractors"], o["nps"]["passives"]) == (10, 5, 3, 2)
    assert o["nps"]["score"] == pytest.approx(20.0)
    assert o["nps"]["ci_low"] == pytest.approx(20 - 100 * Z * math.sqrt(0.76 / 10))
    assert o["nps"]["ci_low"] == pytest.approx(-34.03, abs=0.01)
    assert o["nps"]["ci_high"] == pytest.approx(74.03, abs=0.01)
    assert o["csat"]["score"] == pytest.approx(60.0) and o["csat"]["mean"] == pytest.approx(3.2)
    assert o["ces"]["mean"] == pytest.approx(4.0)
    # emotion: NPS 5 × +1, 3 × −1; CSAT (1 + .5 + .5 − .5 − 1); CES (2/3 + 1/3 − 1): 2.5 over 18 answers
    assert o["emotion"] == {"score": pytest.approx(2.5 / 18), "answers": 18}
    assert o["counts"] == {"ces": 3, "csat": 6, "nps": 11, "verbatim": 1}  # rows, out-of-scale included
    assert o["nps"]["distribution"][0] == {"score": 0, "count": 1}
    assert [g["group"] for g in r.groups] == ["store", "web", None]
    assert [(t["period"], t["group"]) for t in r.trend] == [
        ("2024-03-04", "store"), ("2024-03-04", "web"), ("2024-03-04", None), ("2024-03-11", "web")]
    frame = r.to_frame()
    assert frame.loc[frame.scope == "overall", "nps"].item() == pytest.approx(20.0)
    json.dumps(r.to_dict())


def test_extreme_shares_clip_the_interval(shared_store):
    load_feedback(shared_store, [{"timestamp": T0, "kind": "nps", "score": 10.0}] * 3)
    n = feedback(shared_store, text_scores=None).overall["nps"]
    assert (n["score"], n["ci_low"], n["ci_high"]) == (100.0, 100.0, 100.0)  # variance 0


def test_empty_input(shared_store):
    load_feedback(shared_store, [])
    r = feedback(shared_store, by="channel", period="day", text_scores=None)
    assert r.overall["nps"] == {"n": 0, "promoters": 0, "passives": 0, "detractors": 0, "score": None,
                                "ci_low": None, "ci_high": None, "distribution": []}
    assert r.overall["counts"] == {} and r.groups == [] and r.trend == []
    assert len(r.to_frame()) == 1
    assert emotion_by(shared_store, by="touchpoint").points == []


def test_stage_placement_uses_stitched_person_and_ties(shared_store):
    # c1 is an alias of person p: its answer is placed by p's events; at equal times the later seq wins
    events = [{"person_id": "p", "customer_id": "c1", "timestamp": T0, "event": "a", "stage": "awareness"},
              {"person_id": "p", "customer_id": "p", "timestamp": T0 + D, "event": "b", "stage": "consideration"},
              {"person_id": "p", "customer_id": "p", "timestamp": T0 + D, "event": "c", "stage": "purchase"}]
    load_journey(shared_store, events)
    load_feedback(shared_store, [
        {"customer_id": "c1", "timestamp": T0 + D, "kind": "csat", "score": 5.0},
        {"customer_id": "c1", "timestamp": T0 + dt.timedelta(hours=1), "kind": "csat", "score": 1.0},
        {"customer_id": "c1", "timestamp": T0 - D, "kind": "csat", "score": 3.0}])
    r = feedback(shared_store, by="stage", text_scores=None)
    assert [(g["group"], g["csat"]["mean"]) for g in r.groups] == [
        ("awareness", 1.0), ("purchase", 5.0), (None, 3.0)]


def test_text_scores_hook_as_callable(shared_store):
    load_feedback(shared_store, [
        {"timestamp": T0, "kind": "verbatim", "text": "bad", "language": "en", "touchpoint": "delivery"},
        {"timestamp": T0, "kind": "nps", "score": 10.0, "text": "good", "touchpoint": "delivery"},
        {"timestamp": T0, "kind": "verbatim", "text": "", "touchpoint": "delivery"}])
    seen = []

    def scorer(texts, languages):
        seen.append((list(texts), list(languages)))
        return [{"bad": -0.5, "good": 3.0}[t] for t in texts]

    r = feedback(shared_store, text_scores=scorer)
    assert sorted(seen[0][0]) == ["bad", "good"]
    assert r.overall["text"] == {"n": 2, "mean": pytest.approx(0.25)}  # 3.0 clipped to 1
    v = r.verbatims
    assert (v["n"], v["negative"], v["neutral"], v["positive"], v["themes"]) == (2, 1, 0, 1, [])
    e = emotion_by(shared_store, by="touchpoint", text_scores=scorer).points
    assert e[0]["group"] == "delivery" and e[0]["emotion"] == pytest.approx((1 - 0.5 + 1) / 3)
    with pytest.raises(AnalysisError, match="one score per text"):
        feedback(shared_store, text_scores=lambda t, l: [])
    with pytest.raises(AnalysisError, match="text_scores"):
        feedback(shared_store, text_scores="bert")


def test_default_model_scores_verbatims_and_themes(shared_store):
    # the built-in model: French and English texts, language from the column or guessed
    load_journey(shared_store, [])
    load_feedback(shared_store, [
        {"timestamp": T0, "kind": "verbatim", "language": "fr", "touchpoint": "delivery",
         "text": "Colis arrivé en retard et carton abîmé, très déçu."},
        {"timestamp": T0, "kind": "review", "score": 5.0, "touchpoint": "delivery",
         "text": "Fast delivery and a lovely product, thank you!"},
        {"timestamp": T0, "kind": "complaint", "language": "en", "touchpoint": "support",
         "text": "Customer service never answered and my refund is still missing."},
        {"timestamp": T0 + D, "kind": "verbatim", "language": "fr-FR", "touchpoint": "support",
         "text": "J'ai appelé le service client pour changer mon adresse."},
        {"timestamp": T0 + D, "kind": "csat", "score": 4.0, "touchpoint": "support"}])
    r = feedback(shared_store)
    v = r.verbatims
    assert (v["n"], v["negative"], v["neutral"], v["positive"]) == (4, 2, 1, 1)
    themes = {t["theme"]: t for t in v["themes"]}
    assert set(themes) >= {"delivery", "support", "returns", "product_quality"}
    assert themes["delivery"]["verbatims"] == 2 and themes["delivery"]["share"] == 0.5
    assert themes["support"]["verbatims"] == 2 and themes["support"]["sentiment"] < 0
    assert themes["support"]["examples"][0]["text"].startswith("Customer service never")
    assert r.overall["text"]["n"] == 4
    json.dumps(r.to_dict())
    e = {p["group"]: p for p in emotion_by(shared_store, by="touchpoint").points}
    assert e["delivery"]["answers"] == 3 and e["support"]["answers"] == 3  # review + 2 texts; csat + 2 texts
    assert e["delivery"]["review"] == 1.0 and e["support"]["text"] < 0


def test_errors(shared_store):
    with pytest.raises(AnalysisError, match="period"):
        feedback(shared_store, period="year", text_scores=None)
    with pytest.raises(AnalysisError, match="attribute"):
        feedback(shared_store, by="attributes.", text_scores=None)
    with pytest.raises(AnalysisError, match="date"):
        feedback(shared_store, since="yesterday", text_scores=None)
    with pytest.raises(AnalysisError, match="by"):
        emotion_by(shared_store, by="channel")


def test_stage_needs_the_journey_view(tmp_path):
    from parcours.data.store import Store

    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(AnalysisError, match="journey"):
            feedback(store, by="stage", text_scores=None)


# -- the fast path over journey_events equals the portable one over journey_view -----------
def refreshed(store, events: list[dict], aliases: dict | None = None) -> None:
    """Import the events (and alias links: previous id -> customer id), stitch identities and
    assign stages: the real journey tables."""
    import pandas as pd

    from parcours.data.identity import stitch
    from parcours.data.importer import import_frame
    from parcours.journey.assign import refresh
    from parcours.journey.model import load_template

    if events:
        frame = pd.DataFrame([{"event_id": f"e{i}", **e} for i, e in enumerate(events)])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        import_frame(store, frame)
    with store.transaction() as con:
        for old, new in (aliases or {}).items():
            con.execute("INSERT INTO identities (alias_id, customer_id, source, \"timestamp\") VALUES (?, ?, 'alias', ?)",
                        [old, new, T0])
    stitch(store, force=bool(aliases))  # an alias between two known customers is refused unless forced
    refresh(store, load_template("cinq-etapes"))


raw_event = st.builds(
    lambda c, a, d, h, name: {"customer_id": c, "anonymous_id": a, "timestamp": T0 + d * D + h * dt.timedelta(hours=1),
                              "event": name},
    st.sampled_from(["c1", "c2", "c3", None]),
    st.sampled_from(["a1", "a2", None]),
    st.integers(-1, 4),
    st.sampled_from([0, 6, 12]),
    st.sampled_from(["ad_click", "product_view", "purchase", "support_contact", "review_posted", "login"]),
).filter(lambda e: e["customer_id"] or e["anonymous_id"])


#: answers at the events' hours, so that ties in time with an event are frequent
timed_answer = st.builds(
    lambda c, d, h, kind, sc: {"customer_id": c, "timestamp": T0 + d * D + h * dt.timedelta(hours=1),
                               "kind": kind, "score": float(sc)},
    st.sampled_from(["c1", "c2", "c3", "c9"]),
    st.integers(-1, 4),
    st.sampled_from([0, 6, 12]),
    st.sampled_from(["nps", "csat", "ces"]),
    st.integers(0, 10),
)


@settings(max_examples=12, deadline=None)
@given(st.lists(timed_answer, max_size=15), st.lists(raw_event, max_size=15), st.sampled_from([None, "week"]))
def test_codes_engine_equals_portable(rows, events, period):
    from .conftest import scratch_store

    with scratch_store() as store:
        refreshed(store, events)
        load_feedback(store, rows)
        fast = feedback(store, by="stage", period=period, text_scores=None, engine="codes").to_dict()
        portable = feedback(store, by="stage", period=period, text_scores=None, engine="portable").to_dict()
        assert fast == portable
        assert emotion_by(store, text_scores=None, engine="codes").to_dict() == \
            emotion_by(store, text_scores=None, engine="portable").to_dict()


@pytest.mark.parametrize("engine", ["codes", "portable"])
def test_engines_on_a_refreshed_store(engine):
    # an answer at the very time of an event takes that event's stage; two events at one time:
    # the later imported; an answer by an id stitched to another person goes to that person
    from .conftest import scratch_store

    H = dt.timedelta(hours=1)
    with scratch_store() as store:
        refreshed(store, [
            {"customer_id": None, "anonymous_id": "a1", "timestamp": T0, "event": "ad_click"},
            {"customer_id": "c1", "anonymous_id": "a1", "timestamp": T0 + H, "event": "product_view"},
            {"customer_id": "c1", "anonymous_id": None, "timestamp": T0 + D, "event": "product_view"},
            {"customer_id": "c1", "anonymous_id": None, "timestamp": T0 + D, "event": "purchase"},
            {"customer_id": "c2", "anonymous_id": None, "timestamp": T0 + 2 * D, "event": "review_posted"},
            {"customer_id": "old1", "anonymous_id": None, "timestamp": T0 + 2 * H, "event": "ad_click"}],
            aliases={"old1": "c1"})
        load_feedback(store, [
            {"customer_id": "c1", "timestamp": T0 + H, "kind": "nps", "score": 10.0},
            {"customer_id": "c1", "timestamp": T0 + D, "kind": "nps", "score": 0.0},
            {"customer_id": "c2", "timestamp": T0 + 3 * D, "kind": "csat", "score": 5.0},
            {"customer_id": "c2", "timestamp": T0, "kind": "csat", "score": 1.0},
            {"customer_id": "c9", "timestamp": T0, "kind": "ces", "score": 2.0},
            {"customer_id": "old1", "timestamp": T0 + D + H, "kind": "ces", "score": 1.0}])
        r = feedback(store, by="stage", text_scores=None, engine=engine)
        assert [(g["group"], g["nps"]["n"], g["csat"]["n"], g["ces"]["n"]) for g in r.groups] == [
            ("consideration", 1, 0, 0), ("purchase", 1, 0, 1), ("advocacy", 0, 1, 0), (None, 0, 1, 1)]
        points = emotion_by(store, text_scores=None, engine=engine).points
        assert [(p["group"], p["emotion"]) for p in points] == [
            ("consideration", 1.0), ("purchase", 0.0), ("advocacy", 1.0)]
