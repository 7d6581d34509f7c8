"""The journey map's values on real stores (import, stitch, refresh) against plain Python over
the staged events: a worked example with exact numbers, and random small journeys."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.data.store import Store
from parcours.errors import AnalysisError
from parcours.journey.model import load_template
from parcours.predict.sentiment import score_texts
from parcours.render.map_data import TOP, _moments_of_truth, _top_items, designed_vs_lived, journey_map

from .render_support import T0, build, staged_events

MODEL = load_template("cinq-etapes")
H = dt.timedelta(hours=1)


# -- plain-Python references -------------------------------------------------------------
def ref_top(events: list[dict], column: str) -> dict[str, list[tuple[str, int]]]:
    """Per stage: the TOP most frequent values of ``column``, count descending then name."""
    counts: dict = defaultdict(Counter)
    for e in events:
        if e[column] is not None:
            counts[e["stage"]][e[column]] += 1
    return {s: sorted(c.items(), key=lambda x: (-x[1], x[0]))[:TOP] for s, c in counts.items()}


def stage_paths(events: list[dict]) -> dict[str, list[str]]:
    """Each person's stages in order, consecutive repeats collapsed."""
    out: dict = defaultdict(list)
    for e in events:  # already in (person, timestamp, seq) order
        p = out[e["person"]]
        if not p or p[-1] != e["stage"]:
            p.append(e["stage"])
    return out


def ref_follows(path: list[str], model=MODEL) -> bool:
    order = model.path_order
    allowed = {(m.from_, m.to) for m in model.path.allowed_moves}
    if path[0] != order[0]:
        return False
    return all(order.index(b) == order.index(a) + 1 or (a, b) in allowed for a, b in zip(path, path[1:]))


def ref_deviations(paths: dict[str, list[str]], model=MODEL, top: int = 8) -> list[tuple]:
    """(kind, from, to, people) for late starts, skips and backward moves, each person counted
    once per deviation; most people first, then kind, from, to."""
    order = model.path_order
    allowed = {(m.from_, m.to) for m in model.path.allowed_moves}
    count: Counter = Counter()
    for path in paths.values():
        seen = set()
        if path[0] != order[0]:
            seen.add(("late_start", None, path[0]))
        for a, b in zip(path, path[1:]):
            step = order.index(b) - order.index(a)
            if step != 1 and (a, b) not in allowed:
                seen.add(("skip" if step > 1 else "backward", a, b))
        count.update(seen)
    ranked = sorted(count.items(), key=lambda x: (-x[1], x[0][0], str(x[0][1]), x[0][2]))[:top]
    return [(k, a, b, n) for (k, a, b), n in ranked]


def ref_mots(events: list[dict], model=MODEL) -> dict[tuple[str, str], tuple]:
    """(stage, moment) -> (people with, went on with, people without, went on without)."""
    order = model.path_order
    by_person: dict = defaultdict(list)
    for e in events:
        by_person[e["person"]].append(e)
    out = {}
    for sid in order:
        rank = order.index(sid)
        for name in model.stage(sid).moments_of_truth:
            w = wo = won = woon = 0
            for evs in by_person.values():
                firsts = [i for i, e in enumerate(evs) if e["stage"] == sid]
                if not firsts:
                    continue
                went_on = any(order.index(e["stage"]) > rank for e in evs[firsts[0]:])
                had = any(e["stage"] == sid and name in (e["event"], e["touchpoint"]) for e in evs)
                if had:
                    w, won = w + 1, won + went_on
                else:
                    wo, woon = wo + 1, woon + went_on
            out[(sid, name)] = (w, won, wo, woon)
    return out


# -- worked example ----------------------------------------------------------------------
def ev(who, hours, event, touchpoint=None, channel="web"):
    return {"customer_id": who, "timestamp": T0 + hours * H, "event": event, "touchpoint": touchpoint,
            "channel": channel}


WORKED = [
    ev("a", 0, "ad_click", "google", "search"), ev("a", 1, "product_view", "product_page"),
    ev("a", 2, "review_read", "reviews"), ev("a", 3, "add_to_cart", "cart"), ev("a", 4, "purchase", "checkout"),
    ev("a", 30, "order_delivered", "delivery", "store"),
    ev("b", 0, "search", "google", "search"), ev("b", 1, "product_view", "product_page"),
    ev("b", 2, "add_to_cart", "cart"), ev("b", 3, "product_view", "product_page"), ev("b", 4, "compare"),
    ev("c", 0, "product_view", "product_page", "app"),
    ev("d", 0, "search", "google", "search"), ev("d", 1, "add_to_cart", "cart", "app"),
]
CUSTOMERS = [{"customer_id": c, "attributes": {"segment": seg, "age_band": age}}
             for c, seg, age in (("a", "b2c", "35-49"), ("b", "b2c", "18-24"), ("c", "b2b", "35-49"),
                                 ("d", "b2c", "50-64"))]
FEEDBACK = [
    {"customer_id": "a", "timestamp": T0 + 31 * H, "kind": "nps", "score": 10.0, "text": "Parfait, livré vite."},
    {"customer_id": "b", "timestamp": T0 + 5 * H, "kind": "csat", "score": 2.0, "text": "Trop de frais."},
    {"customer_id": "d", "timestamp": T0 + 2 * H, "kind": "nps", "score": 3.0, "text": None},
]


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("worked") / "s.duckdb")
    build(store, MODEL, WORKED, CUSTOMERS, FEEDBACK)
    yield store, journey_map(store, MODEL, lang="en")
    store.close()


def test_worked_example_lanes(worked):
    store, jm = worked
    assert [s["stage"] for s in jm.stages] == MODEL.path_order
    assert jm.customers == 4
    cons = jm.stage("consideration")
    assert [(a["name"], a["count"], a["people"]) for a in cons["actions"]] == [
        ("product_view", 4, 3), ("compare", 1, 1), ("review_read", 1, 1)]
    assert cons["actions"][0]["share"] == pytest.approx(4 / 6)
    assert cons["reach"] == 3
    aw = jm.stage("awareness")
    assert [(c["name"], c["share"]) for c in aw["channels"]] == [("search", 1.0)]
    assert [(t["name"], t["count"]) for t in aw["touchpoints"]] == [("google", 3)]
    # designed emotion and blueprint lanes come from journey.yaml; measured emotion from feedback
    assert cons["emotion"]["designed"] == MODEL.stage("consideration").emotion.score
    assert cons["frontstage"] == list(MODEL.stage("consideration").backstage.frontstage)
    assert jm.stage("purchase")["emotion"] == {"measured": -1.0, "answers": 1, "designed": 0.4,
                                               "designed_label": MODEL.stage("purchase").emotion.label.en}
    # b's CSAT 2 (−0.5) and its verbatim's sentiment, both given while b was in consideration
    text = score_texts(["Trop de frais."], [None])[0]
    assert cons["emotion"]["measured"] == pytest.approx((-0.5 + text) / 2) and cons["emotion"]["answers"] == 2
    # the moments of truth: people who went on to a later stage, with and without
    mots = {m["name"]: m for m in cons["moments_of_truth"]}
    assert mots["review_read"]["people_with"] == 1 and mots["review_read"]["went_on_with"] == 1.0
    assert mots["review_read"]["went_on_without"] == pytest.approx(0.5)
    assert mots["review_read"]["lift"] == pytest.approx(0.5)
    assert mots["compare"]["lift"] == pytest.approx(0.5)
    assert all(m["lift"] is None for m in jm.stage("advocacy")["moments_of_truth"])  # nothing after the last


def test_worked_example_designed_vs_lived(worked):
    _, jm = worked
    d = jm.designed_vs_lived
    assert (d["customers"], d["following"], d["share"]) == (4, 1, 0.25)  # only a follows the design
    got = {(x["kind"], x["from"], x["to"]): x["customers"] for x in d["deviations"]}
    assert got == {("backward", "purchase", "consideration"): 1, ("late_start", None, "consideration"): 1,
                   ("skip", "awareness", "purchase"): 1}
    moves = jm.stage("purchase")["moves"]
    assert [(b["to"], b["customers"]) for b in moves["backward"]] == [("consideration", 1)]
    assert [(s["to"], s["customers"]) for s in jm.stage("awareness")["moves"]["skips"]] == [("purchase", 1)]
    assert jm.stage("consideration")["moves"]["loop_customers"] == 1  # b came back to consideration


def test_worked_example_kpis_and_opportunities(worked):
    _, jm = worked
    reach = next(k for k in jm.stage("awareness")["kpis"] if k["id"] == "reach")
    assert (reach["value"], reach["met"]) == (3, False)  # 3 people against a target of 10,000
    nps = next(k for k in jm.stage("advocacy")["kpis"] if k["id"] == "nps")
    assert (nps["value"], nps["met"], nps["source"]) == (0.0, False, "feedback")  # one promoter, one detractor
    opp = jm.stage("awareness")["opportunities"]
    assert "missed target: Reach" in opp["reasons"] and opp["priority"] == len(opp["reasons"])
    assert "Target the prospects' preferred channels" in opp["actions"]


def test_worked_example_empathy_maps(worked):
    store, jm = worked
    by_id = {e["id"]: e for e in jm.empathy}
    assert list(by_id) == [p.id for p in MODEL.personas]
    comp = by_id["comparateur"]  # b2c aged 35-64: a and d
    assert comp["people"] == 2
    assert [(x["name"], x["count"]) for x in comp["does"]][:2] == [("add_to_cart", 2), ("ad_click", 1)]
    assert [s["text"] for s in comp["says"]] == ["Parfait, livré vite."]
    assert comp["thinks"]["nps"] == 0.0 and comp["thinks"]["nps_answers"] == 2
    happy = score_texts(["Parfait, livré vite."], [None])[0]
    assert comp["feels"] == pytest.approx({"emotion": (1 - 1 + happy) / 3, "answers": 3, "text_sentiment": happy})
    assert by_id["impulsif"]["says"][0]["text"] == "Trop de frais."
    one = journey_map(store, MODEL, lang="fr", persona="acheteur-pro")
    assert [e["id"] for e in one.empathy] == ["acheteur-pro"] and one.empathy[0]["people"] == 1
    with pytest.raises(AnalysisError, match="unknown persona 'nobody'"):
        journey_map(store, MODEL, persona="nobody")
    no_personas = MODEL.model_copy(update={"personas": []})
    seg = journey_map(store, no_personas, lang="en")  # then one empathy map per customer segment
    assert [(e["kind"], e["id"], e["people"]) for e in seg.empathy] == [("segment", "b2b", 1), ("segment", "b2c", 3)]


def test_to_frame_and_to_dict(worked):
    _, jm = worked
    frame = jm.to_frame()
    assert list(frame.stage) == MODEL.path_order
    assert frame.set_index("stage").loc["consideration", "top_action"] == "product_view"
    d = jm.to_dict()
    assert d["lanes"][0] == "actions" and len(d["stages"]) == len(MODEL.stages)


def test_empty_store(tmp_path):
    with Store(tmp_path / "e.duckdb") as store:
        build(store, MODEL, [])
        jm = journey_map(store, MODEL, lang="fr")
    assert jm.customers == 0 and jm.designed_vs_lived["share"] is None
    assert all(s["reach"] == 0 and s["actions"] == [] for s in jm.stages)
    assert [e["people"] for e in jm.empathy] == [0, 0, 0]


def test_no_journey_tables(tmp_path):
    with Store(tmp_path / "n.duckdb") as store:
        with pytest.raises(AnalysisError, match="parcours refresh"):
            journey_map(store, MODEL)


def test_moments_found_in_the_data_are_on_the_map(tmp_path):
    """A review page that doubles conversion is placed, marked as measured, in its stage, with
    the effect `parcours moments` gives; nothing is placed that the analysis does not flag."""
    import random

    from parcours.analysis.moments import moments_of_truth

    rnd = random.Random(3)
    events = []
    for i in range(800):
        c, t = f"c{i:04d}", T0 + dt.timedelta(days=rnd.randrange(40))
        events.append({"customer_id": c, "timestamp": t, "event": "product_view", "touchpoint": "product_page",
                       "channel": "web"})
        seen = rnd.random() < 0.4
        if seen:
            events.append({"customer_id": c, "timestamp": t + H, "event": "review_read", "touchpoint": "reviews",
                           "channel": "web"})
        if rnd.random() < (0.6 if seen else 0.2):
            events.append({"customer_id": c, "timestamp": t + 2 * H, "event": "purchase", "touchpoint": "checkout",
                           "channel": "web"})
    with Store(tmp_path / "m.duckdb") as store:
        build(store, MODEL, events)
        jm = journey_map(store, MODEL, lang="en")
        found = moments_of_truth(store)
    want = {(m.stage, m.touchpoint): m.effect for m in found.moments if m.significant}
    got = {(s["stage"], m["name"]): m["effect"] for s in jm.stages for m in s["moments_measured"]}
    assert ("consideration", "reviews") in got and got == pytest.approx(want)
    assert got[("consideration", "reviews")] > 0.25
    from parcours.render.map_html import map_markdown, map_page

    assert "✦ reviews" in map_page(jm) and "✦ reviews (+" in map_markdown(jm)


# -- random journeys ---------------------------------------------------------------------
EVENTS = [("ad_click", "google"), ("search", None), ("product_view", "product_page"), ("review_read", "reviews"),
          ("compare", None), ("add_to_cart", "cart"), ("purchase", "checkout"), ("order_delivered", "delivery"),
          ("support_contact", "phone"), ("review_posted", "review_form"), ("page_view", "home"),
          ("page_view", "cart")]
event = st.builds(
    lambda who, hours, e: ev(who, hours, e[0], e[1]),
    st.sampled_from(["p", "q", "r", "s"]),
    st.integers(0, 40).map(lambda h: h - h % 3),  # coarse times: many ties
    st.sampled_from(EVENTS),
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(event, max_size=14))
def test_matches_reference_on_random_journeys(events):
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.duckdb") as store:
        build(store, MODEL, events)
        staged = staged_events(store)
        top = _top_items(store)
        dvl = designed_vs_lived(store, MODEL, "en")
        mots = _moments_of_truth(store, MODEL)
    for column, lane in (("event", "actions"), ("touchpoint", "touchpoints")):
        want = ref_top(staged, column)
        for sid in MODEL.stage_ids:
            got = [(i["name"], i["count"]) for i in top.get((sid, lane), [])]
            assert got == want.get(sid, [])
    paths = stage_paths(staged)
    assert dvl["customers"] == len(paths)
    assert dvl["following"] == sum(ref_follows(p) for p in paths.values())
    assert [(d["kind"], d["from"], d["to"], d["customers"]) for d in dvl["deviations"]] == ref_deviations(paths)
    for (sid, name), (w, won, wo, woon) in ref_mots(staged).items():
        m = next(x for x in mots[sid] if x["name"] == name)
        assert (m["people_with"], m["people_without"]) == (w, wo)
        last = sid == MODEL.path_order[-1]
        assert m["went_on_with"] == (None if last or not w else pytest.approx(won / w))
        assert m["went_on_without"] == (None if last or not wo else pytest.approx(woon / wo))
