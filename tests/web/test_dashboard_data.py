"""The dashboard's data routes over a real server: the same JSON as the query API, kept warm
until the journeys change, refused without a session."""

from __future__ import annotations

from parcours.web.users import add_user
from parcours.workspace import Workspace

from .dashboard_support import session_client

PW = "correct-horse-battery"


def _batch(events, minute=0):
    return {"batch": [{"type": "track", "userId": c, "event": e, "messageId": f"m{i}-{c}-{e}",
                       "timestamp": f"2024-03-04T08:{i:02d}:00Z"} for i, (c, e) in enumerate(events, minute)]}


def test_results_match_the_api_and_follow_refreshes(live):
    server = live(start=False)
    with Workspace.open(server.path) as ws:
        add_user(ws.store, "vic", "analyst", PW)
    server.start()
    with server.writer() as w, server.reader() as api, session_client(server, "vic", PW) as vic:
        assert w.post("/v1/batch", json=_batch([("a", "view"), ("a", "buy"), ("b", "view")])).status_code == 200
        assert api.post("/v1/refresh").status_code == 200
        params = [("step", "view"), ("step", "buy"), ("window", "1d")]
        first = vic.get("/app/q/funnel", params=params)
        assert first.status_code == 200
        assert first.json() == api.get("/api/v1/funnel", params=params).json()
        assert [s["count"] for s in first.json()["steps"]] == [2, 1]
        assert vic.get("/app/q/funnel", params=params).json() == first.json()
        # new events are seen after the refresh that builds their journeys, not before
        assert w.post("/v1/batch", json=_batch([("b", "buy"), ("c", "view")], minute=10)).status_code == 200
        assert api.post("/v1/refresh").status_code == 200
        assert [s["count"] for s in vic.get("/app/q/funnel", params=params).json()["steps"]] == [3, 2]
        assert vic.get("/app/q/funnel", params=[("window", "soon")]).status_code == 422
        assert vic.get("/app/q/nothing").status_code == 404
        assert sum(i["imported"] for i in vic.get("/app/api/data").json()["imports"]) == 5
    with server.client() as anon:
        assert anon.get("/app/q/funnel", params=params).status_code == 401
        assert anon.get("/app/fragment/map").status_code == 401
        assert anon.get("/app/api/data").status_code == 401
