"""The query API answers exactly what the Python functions return on the same store."""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import pandas as pd
import pytest

from parcours.analysis.attribution import attribution
from parcours.analysis.cac import cac
from parcours.analysis.clv import clv
from parcours.analysis.feedback import emotion_by, feedback
from parcours.analysis.moments import moments_of_truth
from parcours.analysis.painpoints import painpoints
from parcours.analysis.segments import list_segments, save_segment, segment_scope
from parcours.analysis.funnel import funnel, funnel_people, funnel_trends
from parcours.analysis.kpis import stage_kpis
from parcours.analysis.paths import paths
from parcours.analysis.retention import retention
from parcours.journey.assign import timeline
from parcours.render.map_data import journey_map
from parcours.workspace import Workspace

T0 = dt.datetime(2024, 3, 4, 8, 0)
CHANNELS = ("browser", "mobile", "server")
CALIBRATION_END = "2024-05-01T00:00:00"


def _messages(seed: int = 7, customers: int = 40) -> list[dict]:
    """Journeys with views, carts and purchases on three channels; ties and repeats included."""
    rng = random.Random(seed)
    out = []
    for c in range(customers):
        t = T0 + dt.timedelta(hours=rng.randrange(0, 24 * 20))
        anon = f"a{c}"
        user = f"c{c}" if rng.random() < 0.8 else None
        if user:
            out.append({"type": "identify", "userId": user, "anonymousId": anon,
                        "traits": {"segment": rng.choice(["pro", "home"])}, "timestamp": t.isoformat()})
        for _ in range(rng.randrange(1, 9)):
            kind = rng.choice(["page", "track", "track", "track"])
            msg = {"type": kind, "anonymousId": anon, "timestamp": t.isoformat() + "Z",
                   "context": {"channel": rng.choice(CHANNELS),
                               "campaign": {"name": rng.choice(["spring", "brand"])}}}
            if user and rng.random() < 0.7:
                msg["userId"] = user
            if kind == "page":
                msg["name"] = rng.choice(["home", "pricing", "product"])
            else:
                msg["event"] = rng.choice(["product_view", "add_to_cart", "purchase", "support_contact"])
                if msg["event"] == "purchase":
                    msg["properties"] = {"revenue": rng.choice([10, 25.5, 80])}
            out.append(msg)
            if rng.random() < 0.8:  # else a tie: same timestamp as the previous event
                t += dt.timedelta(minutes=rng.randrange(1, 60 * 48))
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from .conftest import Live, new_workspace

    path, write, read = new_workspace(tmp_path_factory.mktemp("query") / "ws")
    spend = pd.DataFrame({"date": ["2024-03-01", "2024-03-01", "2024-04-01"], "channel": ["web", "app", "web"],
                          "campaign": ["spring", "brand", "spring"], "amount": [500.0, 120.0, 300.0]})
    with Workspace.open(path) as ws:
        ws.import_spend(spend)
    server = Live(path, write, read, "--refresh-every", "0").start()
    msgs = _messages()
    with server.writer() as c:
        for i in range(0, len(msgs), 50):
            assert c.post("/v1/batch", json={"batch": msgs[i:i + 50]}).status_code == 200
    with server.reader() as c:
        assert c.post("/v1/refresh").status_code == 200
    server.stop()
    rng = random.Random(3)
    answers = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(30)],
        "timestamp": [T0 + dt.timedelta(days=rng.randrange(20)) for _ in range(30)],
        "kind": ["nps", "csat", "review"] * 10,
        "score": [rng.choice([2, 4, 5]) if k != "nps" else rng.randrange(11) for k in ["nps", "csat", "review"] * 10],
        "touchpoint": [rng.choice(["pricing", "home"]) for _ in range(30)]})
    with Workspace.open(path) as ws:
        ws.import_feedback(answers)
        save_segment(ws.store, "pros", "segment = pro")
    server.start()
    yield server
    server.kill()


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _expected(result) -> dict:
    return _clean(json.loads(json.dumps(result.to_dict(), default=str)))


CASES = [
    ("funnel", {"step": ["page_view", "add_to_cart", "purchase"], "window": "7d"},
     lambda s, m: funnel(s, ["page_view", "add_to_cart", "purchase"], window="7d")),
    ("funnel", {"step": ["product_view", "purchase[channel=web]"], "by": "channel", "order": "strict"},
     lambda s, m: funnel(s, ["product_view", {"event": "purchase", "properties": {}, "channel": "web"}],
                         by="channel", order="strict")),
    ("funnel", {"stages": "true", "per": "customer"}, lambda s, m: funnel(s, m.stage_ids, stages=True)),
    ("funnel_trends", {"step": ["page_view", "purchase"], "period": "day", "window": "3d"},
     lambda s, m: funnel_trends(s, ["page_view", "purchase"], period="day", window="3d")),
    ("funnel_people", {"step": ["page_view", "add_to_cart"], "at": 0, "dropped": "true", "limit": 2},
     lambda s, m: funnel_people(s, ["page_view", "add_to_cart"], step=0, dropped=True, limit=2)),
    ("paths", {"by": "stage"}, lambda s, m: paths(s, by="stage")),
    ("paths", {"by": "event", "depth": 3, "min_share": 0.1, "start": "page_view"},
     lambda s, m: paths(s, by="event", depth=3, min_share=0.1, start="page_view")),
    ("retention", {"period": "day", "periods": 5}, lambda s, m: retention(s, period="day", periods=5)),
    ("retention", {"start_event": "product_view", "retention_type": "recurring", "period": "week"},
     lambda s, m: retention(s, start_event="product_view", retention_type="recurring", period="week")),
    ("kpis", {"lang": "fr", "by": "channel"}, lambda s, m: stage_kpis(s, m, by="channel", lang="fr")),
    ("kpis", {}, lambda s, m: stage_kpis(s, m, lang="en")),
    ("attribution", {}, lambda s, m: attribution(s)),
    ("attribution", {"model": "linear", "touch": "campaign", "lookback": "10d"},
     lambda s, m: attribution(s, model="linear", touch="campaign", lookback="10d")),
    ("cac", {"by": "channel"}, lambda s, m: cac(s, by="channel")),
    ("cac", {"by": "none", "period": "quarter"}, lambda s, m: cac(s, by=None, period="quarter")),
    ("clv", {"calibration_end": CALIBRATION_END, "unit": "week", "horizon": 8},
     lambda s, m: clv(s, calibration_end=CALIBRATION_END, unit="week", horizon=8)),
    ("feedback", {"by": "touchpoint", "period": "week"}, lambda s, m: feedback(s, by="touchpoint", period="week")),
    ("emotions", {}, lambda s, m: emotion_by(s)),
    ("painpoints", {"fdr": 0.2}, lambda s, m: painpoints(s, fdr=0.2)),
    ("moments", {"min_exposed": 3, "conversions": ["purchase"]},
     lambda s, m: moments_of_truth(s, min_exposed=3, conversions=["purchase"])),
    ("segments", {}, lambda s, m: list_segments(s)),
    ("map", {"lang": "en"}, lambda s, m: journey_map(s, m, lang="en")),
    # the same analyses inside a saved segment's scope
    ("paths", {"by": "stage", "segment": "pros"}, lambda s, m: _scoped(s, lambda: paths(s, by="stage"))),
    ("funnel", {"step": ["product_view", "purchase"], "segment": "pros"},
     lambda s, m: _scoped(s, lambda: funnel(s, ["product_view", "purchase"]))),
]


def _scoped(store, run):
    with segment_scope(store, "pros"):
        return run()


def test_every_analysis_answers_the_python_result(loaded):
    with loaded.reader() as c:
        answers = [c.get(f"/api/v1/{name}", params=params) for name, params, _ in CASES]
        timelines = {cid: c.get(f"/api/v1/customers/{cid}/timeline", params={"lang": "fr"}) for cid in ("c1", "a3")}
        listed = c.get("/api/v1/analyses").json()
    assert [r.status_code for r in answers] == [200] * len(CASES), [r.text for r in answers if r.status_code != 200]
    assert {a["name"] for a in listed["analyses"]} >= {
        "funnel", "paths", "retention", "kpis", "attribution", "cac", "clv", "feedback", "emotions", "painpoints",
        "moments", "segments", "map", "funnel_trends", "funnel_people"}
    by_name = {(n, json.dumps(p, sort_keys=True)): r.json() for (n, p, _), r in zip(CASES, answers)}
    scoped = by_name[("paths", json.dumps({"by": "stage", "segment": "pros"}, sort_keys=True))]
    assert 0 < scoped["customers"] < by_name[("paths", json.dumps({"by": "stage"}))]["customers"]
    loaded.stop()
    with Workspace.open(loaded.path, read_only=True) as ws:
        for (name, params, run), answer in zip(CASES, answers):
            assert answer.json() == _expected(run(ws.store, ws.model)), (name, params)
        for cid, answer in timelines.items():
            assert answer.status_code == 200
            assert answer.json() == _expected(timeline(ws.store, ws.model, cid, lang="fr"))
    assert answers[0].json()["steps"][0]["count"] > 0  # the data is not empty
    loaded.start()


def test_bad_parameters_answer_4xx_with_the_reason(loaded):
    with loaded.reader() as c:
        r = c.get("/api/v1/funnel", params={"step": ["a", "b"], "window": "fortnight"})
        assert r.status_code == 422 and "window" in r.text
        r = c.get("/api/v1/funnel", params={"step": ["a", "b"], "window": "0d"})
        assert r.status_code == 400 and "must be positive" in r.json()["detail"]
        r = c.get("/api/v1/paths", params={"segment": "nobody"})
        assert r.status_code == 400 and "nobody" in r.json()["detail"]
        r = c.get("/api/v1/cac", params={"since": "0.5"})
        assert r.status_code == 422 and "ISO 8601" in r.text
        r = c.get("/api/v1/funnel", params={})
        assert r.status_code == 400 and "at least one step" in r.json()["detail"]
        r = c.get("/api/v1/funnel", params={"step": "a[colour=red]"})
        assert r.status_code == 400 and "colour" in r.json()["detail"]
        r = c.get("/api/v1/paths", params={"by": "planet"})
        assert r.status_code == 422 and "by" in r.text
        r = c.get("/api/v1/retention", params={"periods": 0})
        assert r.status_code == 422
        r = c.get("/api/v1/retention", params={"perriod": "day"})  # a typo is not ignored
        assert r.status_code == 422 and "perriod" in r.text
        r = c.get("/api/v1/customers/nobody/timeline")
        assert r.status_code == 400 and "unknown customer" in r.json()["detail"]
        assert c.get("/api/v1/nosuch").status_code == 404


def test_queries_before_the_first_refresh_answer_409(live):
    server = live()
    with server.writer() as w:
        assert w.post("/v1/track", json={"userId": "c1", "event": "e", "timestamp": "2024-03-04T08:00:00Z"}).status_code == 200
    with server.reader() as c:
        # a new workspace has no journey tables until the first refresh (background refresh is off)
        r = c.get("/api/v1/paths")
        assert r.status_code == 409 and "refresh" in r.json()["detail"]
        assert c.post("/v1/refresh").json()["stats"]["events"] == 1
        assert c.get("/api/v1/customers/c1/timeline").json()["events"][0]["event"] == "e"
