"""Segment files through the whole import: rows, links, rejects, idempotence, stitching."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from parcours.workspace import Workspace


def messages():
    return [
        {"type": "page", "anonymousId": "anon-1", "name": "home", "timestamp": "2024-03-01T10:00:00Z", "messageId": "m1"},
        {"type": "track", "anonymousId": "anon-2", "event": "product_view", "timestamp": "2024-03-01T09:00:00Z",
         "messageId": "m2", "context": {"channel": "mobile"}},
        {"type": "identify", "anonymousId": "anon-1", "userId": "u1", "traits": {"segment": "b2c"},
         "timestamp": "2024-03-01T10:06:00Z", "messageId": "m3"},
        {"type": "alias", "previousId": "anon-2", "userId": "u1", "timestamp": "2024-03-01T10:07:00Z", "messageId": "m4"},
        {"type": "track", "userId": "u1", "event": "purchase", "properties": {"revenue": 40, "currency": "EUR"},
         "timestamp": "2024-03-01T10:10:00Z", "messageId": "m5"},
        {"type": "track", "userId": "u1", "timestamp": "2024-03-01T10:11:00Z", "messageId": "m6"},
        {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme"},
         "timestamp": "2024-03-01T10:12:00Z", "messageId": "m7"},
    ]


@pytest.fixture
def ws(tmp_path):
    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()


def test_batch_file_imports_events_customers_links_and_rejects(ws, tmp_path):
    f = tmp_path / "batch.json"
    f.write_text(json.dumps({"batch": messages(), "sentAt": "2024-03-01T10:20:00Z"}), encoding="utf-8")
    report = ws.import_segment(f)
    # 4 events (page, track, track, purchase... minus the one without a name), customers, 2 links
    assert ws.store.fetch("SELECT event_id, event, customer_id, anonymous_id, value, currency FROM events ORDER BY timestamp") == [
        ("m2", "product_view", None, "anon-2", None, None),
        ("m1", "page_view", None, "anon-1", None, None),
        ("m5", "purchase", "u1", None, 40.0, "EUR"),
    ]
    assert ws.store.fetch("SELECT alias_id, customer_id, source, status FROM identities ORDER BY alias_id") == [
        ("anon-1", "u1", "identify", "accepted"), ("anon-2", "u1", "alias", "accepted")]
    (cust, account, attributes), = ws.store.fetch("SELECT customer_id, account_id, attributes FROM customers")
    assert (cust, account, json.loads(attributes)["segment"]) == ("u1", "acme", "b2c")
    assert ws.store.fetch('SELECT "row", "column", reason FROM rejects') == [
        (6, "event", "track message without an event name")]
    assert report.rejected == 1
    # one person: both devices' anonymous activity joins u1's journey
    timeline = ws.journey("anon-2").to_dict()
    assert timeline["person_id"] == "u1"
    assert [e["event"] for e in timeline["events"]] == ["product_view", "page_view", "purchase"]
    assert set(timeline["anonymous_ids"]) == {"anon-1", "anon-2"}
    # re-import: nothing twice
    again = ws.import_segment(f)
    assert again.imported == 0 and again.duplicates >= 3
    assert ws.store.scalar("SELECT count(*) FROM events") == 3
    assert ws.store.scalar("SELECT count(*) FROM identities") == 2


def test_conflicting_alias_is_refused_and_journeys_stay_apart(ws):
    ws.import_segment([
        {"type": "track", "userId": "u1", "event": "page_view", "timestamp": "2024-03-01T10:00:00Z", "messageId": "a"},
        {"type": "track", "userId": "u2", "event": "purchase", "timestamp": "2024-03-02T10:00:00Z", "messageId": "b"},
        {"type": "alias", "previousId": "u2", "userId": "u1", "timestamp": "2024-03-03T10:00:00Z", "messageId": "c"},
    ])
    status, reason = ws.store.fetch("SELECT status, reason FROM identities")[0]
    assert status == "refused" and "u1" in reason and "u2" in reason
    assert ws.journey("u2").to_dict()["person_id"] == "u2"
    assert [e["event"] for e in ws.journey("u1").to_dict()["events"]] == ["page_view"]


def test_in_memory_messages_keep_their_position_as_row(ws):
    ws.import_segment([{"type": "track", "anonymousId": "x", "event": "a", "timestamp": "2024-01-01T00:00:00Z"},
                       {"type": "screen", "timestamp": "2024-01-01T00:00:00Z"},
                       {"type": "track", "anonymousId": "x", "event": "b", "timestamp": "not a time"}])
    assert [r[0] for r in ws.store.fetch('SELECT "row" FROM rejects ORDER BY "row"')] == [2, 3]
    assert ws.store.fetch("SELECT event, timestamp FROM events") == [("a", dt.datetime(2024, 1, 1))]
