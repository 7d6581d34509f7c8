"""Segment ingestion against a real server: stored rows, batches, idempotency, limits, errors."""

from __future__ import annotations

import datetime as dt
import json

T = "2024-03-04T08:00:00Z"


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)


def test_each_segment_endpoint_stores_its_rows(live):
    server = live()
    with server.writer() as c:
        ok = [
            c.post("/v1/track", json={"userId": "c1", "event": "add_to_cart", "messageId": "m-track",
                                      "timestamp": T, "properties": {"sku": "A1", "revenue": 19.5, "currency": "eur"},
                                      "context": {"campaign": {"source": "news"}}}),
            c.post("/v1/page", json={"anonymousId": "a1", "name": "pricing", "messageId": "m-page", "timestamp": T}),
            c.post("/v1/screen", json={"userId": "c1", "name": "home", "messageId": "m-screen", "timestamp": T}),
            c.post("/v1/identify", json={"userId": "c1", "anonymousId": "a1", "traits": {"email": "x@example.com"},
                                         "timestamp": T}),
            c.post("/v1/group", json={"userId": "c1", "groupId": "acme", "traits": {"plan": "pro"}}),
            c.post("/v1/alias", json={"userId": "c1", "previousId": "a-old", "timestamp": T}),
        ]
    assert [r.status_code for r in ok] == [200] * 6
    assert all(r.json() == {"success": True, "received": 1} for r in ok)
    events = server.rows("""SELECT event_id, customer_id, anonymous_id, event, channel, touchpoint, value,
        currency, "timestamp", properties FROM events ORDER BY event_id""")
    by_id = {e[0]: e for e in events}
    assert set(by_id) == {"m-track", "m-page", "m-screen"}
    track = by_id["m-track"]
    assert track[1:8] == ("c1", None, "add_to_cart", None, None, 19.5, "EUR")
    assert track[8] == _utc(T)
    assert json.loads(track[9]) == {"sku": "A1", "utm_source": "news"}
    assert by_id["m-page"][1:6] == (None, "a1", "page_view", "web", "pricing")
    assert by_id["m-screen"][3:6] == ("screen_view", "app", "home")
    customers = server.rows("SELECT customer_id, account_id, attributes FROM customers")
    assert len(customers) == 1 and customers[0][1] == "acme"
    assert json.loads(customers[0][2]) == {"email": "x@example.com", "account_traits": {"plan": "pro"}}
    links = server.rows("SELECT alias_id, customer_id, source FROM identities ORDER BY alias_id")
    assert links == [("a-old", "c1", "alias"), ("a1", "c1", "identify")]


def test_batch_applies_its_sent_at_and_context_and_corrects_clock_skew(live):
    server = live()
    # the device's clock is one hour ahead: it stamped the event and the batch one hour late
    batch = {"sentAt": "2030-01-01T01:00:00Z", "context": {"channel": "mobile"},
             "batch": [{"type": "track", "userId": "c1", "event": "purchase", "messageId": "b1",
                        "timestamp": "2030-01-01T00:59:00Z", "receivedAt": "1999-01-01T00:00:00Z"},
                       {"type": "identify", "userId": "c1", "traits": {"name": "Ana"}},
                       {"type": "page", "anonymousId": "a9", "messageId": "b2", "timestamp": T,
                        "sentAt": T, "context": {"channel": "browser"}}]}
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with server.writer() as c:
        r = c.post("/v1/batch", json=batch)
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert r.status_code == 200 and r.json()["received"] == 3
    rows = dict(server.rows('SELECT event_id, "timestamp" FROM events'))
    channels = dict(server.rows("SELECT event_id, channel FROM events"))
    # receivedAt is the server's clock (the sender's is ignored): stored = receivedAt - 1 min
    assert before - dt.timedelta(minutes=1, seconds=1) <= rows["b1"] <= after - dt.timedelta(minutes=1)
    assert before - dt.timedelta(seconds=1) <= rows["b2"] <= after  # sentAt == timestamp: no skew
    assert channels == {"b1": "app", "b2": "web"}  # batch context, overridden by the message's


def test_same_message_id_is_stored_once_also_after_a_restart(live):
    server = live()
    msg = {"userId": "c1", "event": "purchase", "messageId": "dup", "timestamp": T}
    with server.writer() as c:
        assert c.post("/v1/track", json=msg).status_code == 200
        assert c.post("/v1/track", json=msg).status_code == 200
        twice = {"batch": [{"type": "track", **msg}, {"type": "track", **msg, "event": "other"}]}
        assert c.post("/v1/batch", json=twice).status_code == 200
    server.stop()
    server.start()
    with server.writer() as c:
        assert c.post("/v1/batch", json=twice).status_code == 200
    assert server.rows("SELECT event_id, event FROM events") == [("dup", "purchase")]


def test_size_limits_answer_413(live):
    server = live()
    big = "x" * (33 * 1024)
    with server.writer() as c:
        one = c.post("/v1/track", json={"userId": "c1", "event": "e", "properties": {"note": big}})
        assert one.status_code == 413 and "32 KB" in one.json()["detail"]
        batch = {"batch": [{"type": "track", "userId": "c1", "event": "e", "messageId": f"m{i}"} for i in range(3)]}
        batch["batch"][1]["properties"] = {"note": big}
        r = c.post("/v1/batch", json=batch)
        assert r.status_code == 413 and r.json()["field"] == "batch[1]"
        huge = {"batch": [{"type": "track", "userId": "c1", "event": "e", "properties": {"note": "y" * 20_000}}
                          for _ in range(30)]}
        r = c.post("/v1/batch", json=huge)
        assert r.status_code == 413 and "500 KB" in r.json()["detail"]
    assert server.rows("SELECT count(*) FROM events") == [(0,)]


def test_bad_input_answers_400_naming_the_field_and_stores_nothing(live):
    server = live()
    with server.writer() as c:
        r = c.post("/v1/track", content=b'{"userId": "c1", "event": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["detail"].startswith("invalid JSON")
        r = c.post("/v1/track", json={"userId": "c1", "timestamp": T})
        assert r.status_code == 400 and r.json()["field"] == "event"
        r = c.post("/v1/track", json={"event": "e", "timestamp": T})
        assert r.status_code == 400 and r.json()["field"] == "userId/anonymousId"
        r = c.post("/v1/page", json={"type": "track", "userId": "c1", "event": "e"})
        assert r.status_code == 400 and r.json()["field"] == "type"
        r = c.post("/v1/track", json={"userId": "c1", "event": "e", "timestamp": "yesterday"})
        assert r.status_code == 400 and r.json()["field"] == "timestamp"
        # out of range once in UTC, or once corrected for clock skew: a reject, not a crash
        r = c.post("/v1/track", json={"userId": "c1", "event": "e", "timestamp": "0001-01-01T00:00:00+01:00"})
        assert r.status_code == 400 and r.json()["field"] == "timestamp" and "out of range" in r.json()["detail"]
        r = c.post("/v1/track", json={"userId": "c1", "event": "e", "timestamp": "0770-12-11T07:36:55Z",
                                      "sentAt": "9613-09-05T02:09:19Z"})
        assert r.status_code == 400 and r.json()["field"] == "sentAt"
        r = c.post("/v1/track", content=b'{"userId": "c1", "event": "e", "messageId": "\\ud800"}')
        assert r.status_code == 400 and "surrogate" in r.json()["detail"]
        huge = b"9" * 400
        r = c.post("/v1/track", content=b'{"userId": "c1", "event": "e", "properties": {"revenue": ' + huge + b"}}")
        assert r.status_code == 400 and r.json()["field"] == "properties.revenue"
        for path in ("/v1/track", "/v1/batch"):
            r = c.post(path, content=b'{"batch": [{"a": ' + b"9" * 5000 + b"}]}")
            assert r.status_code == 400 and r.json()["detail"].startswith("invalid JSON")
        r = c.post("/v1/batch", json={"messages": []})
        assert r.status_code == 400 and r.json()["field"] == "batch"
        r = c.post("/v1/batch", json=[1, 2])
        assert r.status_code == 400
        batch = {"batch": [{"type": "track", "userId": "c1", "event": "ok", "messageId": "good", "timestamp": T},
                           {"type": "track", "userId": "c1", "event": "e", "properties": {"revenue": "lots"}},
                           {"type": "nope", "userId": "c1"}]}
        r = c.post("/v1/batch", json=batch)
        body = r.json()
        assert r.status_code == 400 and body["field"] == "batch[1].properties.revenue"
        assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "properties.revenue"), (2, "type")]
    assert server.rows("SELECT count(*) FROM events") == [(0,)]
