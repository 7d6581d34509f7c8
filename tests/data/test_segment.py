"""Segment messages to canonical rows: every message type, files, skew correction, rejections."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from parcours.data.schema import CUSTOMERS, EVENTS, MAX_ID, MAX_JSON, MAX_NAME
from parcours.data.segment import (
    ReadError,
    parse_file,
    parse_messages,
    read_segment_file,
)

UTC = dt.timezone.utc
T = "2024-03-01T10:00:00Z"
T_DT = dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def parse(*msgs, **kw):
    return parse_messages(list(msgs), source="test", **kw)


def one_event(msg, **kw):
    rows = parse(msg, **kw)
    assert not rows.rejects, rows.rejects
    assert len(rows.events) == 1
    return rows.events[0]


def one_reject(msg, **kw):
    rows = parse(msg, **kw)
    assert not rows.events and not rows.customers and not rows.identities
    assert len(rows.rejects) == 1
    return rows.rejects[0]


# -- message types ---------------------------------------------------------------------------


def test_track_maps_every_column():
    ev = one_event({
        "type": "track", "messageId": "m1", "userId": "u1", "anonymousId": "a1",
        "event": "Order Completed", "timestamp": T,
        "properties": {"revenue": 49.9, "currency": "eur", "channel": "email", "order_id": "o1",
                       "total": 55},
        "context": {"groupId": "acc1", "campaign": {"name": "spring", "source": "newsletter"},
                    "device": {"type": "ios"}},
    })
    assert set(EVENTS.names) <= set(ev)
    assert ev["event_id"] == "m1" and ev["customer_id"] == "u1" and ev["anonymous_id"] == "a1"
    assert ev["account_id"] == "acc1"
    assert ev["timestamp"] == T_DT and ev["timestamp"].tzinfo is not None
    assert ev["event"] == "Order Completed"
    assert ev["channel"] == "email"
    assert ev["value"] == 49.9 and ev["currency"] == "EUR"
    assert ev["properties"] == {"order_id": "o1", "total": 55, "utm_campaign": "spring",
                                "utm_source": "newsletter", "device_type": "ios"}
    assert ev["row"] == 1


def test_value_falls_back_to_total_then_value():
    base = {"type": "track", "userId": "u", "event": "x", "timestamp": T}
    assert one_event({**base, "properties": {"total": "12.5"}})["value"] == 12.5
    assert one_event({**base, "properties": {"value": 3}})["value"] == 3.0
    assert one_event(base)["value"] is None


def test_account_from_properties_and_missing_message_id():
    ev = one_event({"type": "track", "anonymousId": "a", "event": "x", "timestamp": T,
                    "properties": {"account_id": "acc9"}})
    assert ev["account_id"] == "acc9" and "account_id" not in ev["properties"]
    assert ev["event_id"] is None  # the importer hashes the content


def test_page_touchpoint_and_channel():
    ev = one_event({"type": "page", "anonymousId": "a", "name": "Pricing", "category": "Docs",
                    "timestamp": T, "properties": {"path": "/pricing", "url": "https://x/pricing"}})
    assert ev["event"] == "page_view" and ev["touchpoint"] == "Pricing" and ev["channel"] == "web"
    assert ev["properties"] == {"path": "/pricing", "url": "https://x/pricing", "category": "Docs"}
    ev = one_event({"type": "page", "anonymousId": "a", "timestamp": T, "properties": {"path": "/p"}})
    assert ev["touchpoint"] == "/p" and "path" not in ev["properties"]
    ev = one_event({"type": "page", "anonymousId": "a", "timestamp": T,
                    "context": {"page": {"path": "/ctx", "referrer": "https://g"}}})
    assert ev["touchpoint"] == "/ctx" and ev["properties"] == {"referrer": "https://g"}


def test_screen():
    ev = one_event({"type": "screen", "userId": "u", "name": "Cart", "timestamp": T})
    assert ev["event"] == "screen_view" and ev["touchpoint"] == "Cart" and ev["channel"] == "app"


@pytest.mark.parametrize("seg, expected", [("browser", "web"), ("mobile", "app"),
                                           ("server", "server"), ("Kiosk", "kiosk")])
def test_segment_channels(seg, expected):
    assert one_event({"type": "track", "userId": "u", "event": "x", "timestamp": T,
                      "context": {"channel": seg}})["channel"] == expected
    # the top-level `channel` of Segment messages too
    assert one_event({"type": "track", "userId": "u", "event": "x", "timestamp": T,
                      "channel": seg})["channel"] == expected


def test_identify_gives_customer_and_link():
    rows = parse({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": T,
                  "traits": {"email": "x@y.fr", "plan": "pro", "createdAt": "2023-05-01T08:00:00+02:00"},
                  "context": {"groupId": "acc1"}})
    assert not rows.rejects and not rows.events
    [c] = rows.customers
    assert set(CUSTOMERS.names) <= set(c)
    assert c == {"customer_id": "u1", "account_id": "acc1",
                 "created_at": dt.datetime(2023, 5, 1, 6, 0, tzinfo=UTC),
                 "attributes": {"email": "x@y.fr", "plan": "pro"}, "row": 1}
    assert rows.identities == [{"alias_id": "a1", "customer_id": "u1", "source": "identify",
                                "timestamp": T_DT, "row": 1}]


def test_identify_without_anonymous_id_has_no_link():
    rows = parse({"type": "identify", "userId": "u1", "timestamp": T, "traits": {"a": 1}})
    assert len(rows.customers) == 1 and rows.identities == []


def test_group():
    rows = parse({"type": "group", "userId": "u1", "groupId": "acc1", "timestamp": T,
                  "traits": {"name": "ACME", "employees": 120}})
    assert rows.customers == [{"customer_id": "u1", "account_id": "acc1", "created_at": None,
                               "attributes": {"account_traits": {"name": "ACME", "employees": 120}},
                               "row": 1}]


def test_alias():
    rows = parse({"type": "alias", "previousId": "old", "userId": "new", "timestamp": T})
    assert rows.identities == [{"alias_id": "old", "customer_id": "new", "source": "alias",
                                "timestamp": T_DT, "row": 1}]


def test_rows_count_from_start_row():
    rows = parse_messages([{"type": "track", "userId": "u", "event": "x", "timestamp": T}] * 3,
                          source="s", start_row=10)
    assert [e["row"] for e in rows.events] == [10, 11, 12]
    assert rows.source == "s" and rows.messages == 3


# -- timestamps ------------------------------------------------------------------------------


def test_clock_skew_worked_example():
    # the device clock is 1 h 2 min ahead: it says the event happened at 10:00 and the message
    # left at 10:05; the server got it at 09:03:00 (true time). 5 min before sending is 08:58.
    msg = {"type": "track", "userId": "u", "event": "x",
           "originalTimestamp": "2024-03-01T10:00:00Z", "timestamp": "2024-03-01T11:00:00Z",
           "sentAt": "2024-03-01T10:05:00Z", "receivedAt": "2024-03-01T09:03:00Z"}
    assert one_event(msg)["timestamp"] == dt.datetime(2024, 3, 1, 8, 58, tzinfo=UTC)
    # without originalTimestamp, timestamp is the device time
    del msg["originalTimestamp"]
    assert one_event(msg)["timestamp"] == dt.datetime(2024, 3, 1, 9, 58, tzinfo=UTC)


def test_received_at_argument_stands_for_missing_received_at():
    msg = {"type": "track", "userId": "u", "event": "x",
           "timestamp": "2024-03-01T10:00:00+01:00", "sentAt": "2024-03-01T10:00:30+01:00"}
    got = one_event(msg, received_at=dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC))
    assert got["timestamp"] == dt.datetime(2024, 3, 1, 8, 59, 30, tzinfo=UTC)
    # the message's own receivedAt wins over the argument
    got = one_event({**msg, "receivedAt": "2024-03-01T09:10:00Z"},
                    received_at=dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC))
    assert got["timestamp"] == dt.datetime(2024, 3, 1, 9, 9, 30, tzinfo=UTC)


def test_timestamp_fallbacks_and_offsets():
    base = {"type": "track", "userId": "u", "event": "x"}
    assert one_event({**base, "timestamp": "2024-03-01T12:00:00+02:00",
                      "originalTimestamp": "2020-01-01T00:00:00Z"})["timestamp"] == T_DT
    assert one_event({**base, "originalTimestamp": "2024-03-01T05:00:00-05:00"})["timestamp"] == T_DT
    assert one_event({**base, "receivedAt": T})["timestamp"] == T_DT
    # no sentAt: no correction even with receivedAt
    assert one_event({**base, "timestamp": T, "receivedAt": "2024-03-02T00:00:00Z"})["timestamp"] == T_DT
    assert one_event({**base, "timestamp": "2024-03-01T10:00:00"})["timestamp"] == T_DT  # naive = UTC


# -- rejections ------------------------------------------------------------------------------

TRACK = {"type": "track", "userId": "u", "event": "x", "timestamp": T}


@pytest.mark.parametrize("msg, column, words", [
    ("just a string", None, "not a JSON object"),
    ([1, 2], None, "not a JSON object"),
    ({"userId": "u", "event": "x", "timestamp": T}, "type", "missing type"),
    ({**TRACK, "type": "purchase"}, "type", "unknown type 'purchase'"),
    ({**TRACK, "event": None}, "event", "without an event name"),
    ({"type": "track", "userId": "u", "timestamp": T}, "event", "without an event name"),
    ({"type": "track", "event": "x", "timestamp": T}, "userId/anonymousId", "neither userId nor anonymousId"),
    ({"type": "page", "timestamp": T}, "userId/anonymousId", "neither userId nor anonymousId"),
    ({"type": "screen", "name": "s", "timestamp": T}, "userId/anonymousId", "neither"),
    ({"type": "identify", "traits": {"a": 1}, "timestamp": T}, "userId/anonymousId", "neither"),
    ({"type": "alias", "userId": "u", "timestamp": T}, "previousId", "without previousId"),
    ({"type": "alias", "previousId": "p", "timestamp": T}, "userId", "without userId"),
    ({"type": "group", "userId": "u", "timestamp": T}, "groupId", "without groupId"),
    ({**TRACK, "timestamp": "yesterday"}, "timestamp", "unparseable timestamp 'yesterday'"),
    ({**TRACK, "sentAt": "2024-13-45"}, "sentAt", "unparseable timestamp"),
    ({**TRACK, "timestamp": None}, "timestamp", "no timestamp"),
    ({"type": "identify", "userId": "u", "timestamp": T, "traits": {"createdAt": "soon"}},
     "traits.createdAt", "unparseable timestamp"),
    ({**TRACK, "userId": "u" * (MAX_ID + 1)}, "userId", f"maximum of {MAX_ID}"),
    ({**TRACK, "anonymousId": "a" * (MAX_ID + 1)}, "anonymousId", f"maximum of {MAX_ID}"),
    ({**TRACK, "messageId": "m" * (MAX_ID + 1)}, "messageId", f"maximum of {MAX_ID}"),
    ({"type": "alias", "previousId": "p" * (MAX_ID + 1), "userId": "u", "timestamp": T},
     "previousId", f"maximum of {MAX_ID}"),
    ({**TRACK, "event": "e" * (MAX_NAME + 1)}, "event", f"maximum of {MAX_NAME}"),
    ({"type": "page", "userId": "u", "name": "n" * (MAX_NAME + 1), "timestamp": T}, "name",
     f"maximum of {MAX_NAME}"),
    ({**TRACK, "properties": {"blob": "x" * MAX_JSON}}, "properties", f"maximum of {MAX_JSON}"),
    ({"type": "identify", "userId": "u", "timestamp": T, "traits": {"blob": "x" * MAX_JSON}},
     "traits", f"maximum of {MAX_JSON}"),
    ({**TRACK, "properties": {"revenue": "a lot"}}, "properties.revenue", "not a number: 'a lot'"),
    ({**TRACK, "properties": {"revenue": True}}, "properties.revenue", "not a number"),
    ({**TRACK, "properties": {"total": "NaN"}}, "properties.total", "not a finite number"),
    ({**TRACK, "properties": "not an object"}, "properties", "must be a JSON object"),
    ({**TRACK, "userId": {"id": 1}}, "userId", "must be a string"),
])
def test_rejections(msg, column, words):
    good = dict(TRACK)
    rows = parse(good, msg, good)
    assert [e["row"] for e in rows.events] == [1, 3]
    [rej] = rows.rejects
    assert rej["row"] == 2
    assert rej["column"] == column
    assert words in rej["reason"]
    assert json.loads(rej["raw"]) == msg


def test_a_rejected_identify_adds_nothing():
    rows = parse({"type": "identify", "userId": "u", "anonymousId": "a", "timestamp": "bad",
                  "traits": {"x": 1}})
    assert rows.customers == [] and rows.identities == [] and len(rows.rejects) == 1


def test_numeric_user_id_is_text():
    assert one_event({**TRACK, "userId": 42})["customer_id"] == "42"


# -- files -----------------------------------------------------------------------------------


def test_jsonl_with_broken_line_in_the_middle(tmp_path):
    p = tmp_path / "m.jsonl"
    lines = [json.dumps({**TRACK, "messageId": "m1"}), "{not json", "",
             json.dumps({**TRACK, "messageId": "m2"}), json.dumps({"type": "nope"})]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(read_segment_file(p))
    assert [r for r, _ in items] == [1, 2, 4, 5]
    assert isinstance(items[1][1], ReadError) and "invalid JSON" in items[1][1].reason
    rows = parse_file(p)
    assert [(e["event_id"], e["row"]) for e in rows.events] == [("m1", 1), ("m2", 4)]
    assert [(r["row"], r["column"]) for r in rows.rejects] == [(2, None), (5, "type")]
    assert rows.rejects[0]["raw"] == "{not json"
    assert "invalid JSON" in rows.rejects[0]["reason"]
    assert rows.source == str(p)


def test_jsonl_line_not_utf8(tmp_path):
    p = tmp_path / "m.jsonl"
    good = json.dumps({**TRACK, "messageId": "m1", "properties": {"city": "Besançon"}},
                      ensure_ascii=False).encode("utf-8")
    bad = json.dumps({**TRACK, "messageId": "m2", "properties": {"city": "Besançon"}},
                     ensure_ascii=False).encode("latin-1")
    p.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b"m1", b"m3") + b"\n")
    rows = parse_file(p)
    assert [e["event_id"] for e in rows.events] == ["m1", "m3"]
    assert rows.events[0]["properties"] == {"city": "Besançon"}
    [rej] = rows.rejects
    assert rej["row"] == 2 and "not valid UTF-8" in rej["reason"] and "\\xe7" in rej["raw"]


def test_json_array(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps([TRACK, {"type": "alias", "previousId": "p", "userId": "u", "timestamp": T},
                             {"type": "group", "userId": "u", "timestamp": T}]), encoding="utf-8")
    rows = parse_file(p)
    assert [e["row"] for e in rows.events] == [1]
    assert [i["row"] for i in rows.identities] == [2]
    assert [(r["row"], r["column"]) for r in rows.rejects] == [(3, "groupId")]


def test_json_array_with_latin1_message(tmp_path):
    p = tmp_path / "m.json"
    body = json.dumps([TRACK, {**TRACK, "event": "café"}, TRACK], ensure_ascii=False)
    p.write_bytes(body.encode("latin-1"))
    rows = parse_file(p)
    assert [e["row"] for e in rows.events] == [1, 3]
    assert [r["row"] for r in rows.rejects] == [2] and "UTF-8" in rows.rejects[0]["reason"]


def test_broken_json_array_is_one_reject(tmp_path):
    p = tmp_path / "m.json"
    p.write_text('[\n{"type": "track"},\n{oops}\n]', encoding="utf-8")
    rows = parse_file(p)
    assert rows.events == [] and len(rows.rejects) == 1
    assert rows.rejects[0]["row"] == 3 and "invalid JSON array" in rows.rejects[0]["reason"]


def test_batch_object_applies_sent_at_and_context(tmp_path):
    p = tmp_path / "batch.json"
    p.write_text(json.dumps({
        "batch": [
            {"type": "track", "userId": "u", "event": "a", "timestamp": "2024-03-01T10:00:00Z"},
            {"type": "track", "userId": "u", "event": "b", "timestamp": "2024-03-01T10:01:00Z",
             "context": {"channel": "browser"}},
            {"type": "track", "event": "c", "timestamp": T},
            {"type": "screen", "userId": "u", "name": "Home", "timestamp": "2024-03-01T10:02:00Z",
             "sentAt": "2024-03-01T10:02:00Z"},
        ],
        "sentAt": "2024-03-01T10:05:00Z",
        "receivedAt": "2024-03-01T10:00:00Z",
        "context": {"channel": "mobile", "campaign": {"medium": "cpc"}},
    }), encoding="utf-8")
    rows = parse_file(p)
    a, b, s = rows.events
    # the device is 5 minutes ahead: every time moves back by 5 minutes
    assert a["timestamp"] == dt.datetime(2024, 3, 1, 9, 55, tzinfo=UTC)
    assert b["timestamp"] == dt.datetime(2024, 3, 1, 9, 56, tzinfo=UTC)
    assert s["timestamp"] == dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # its own sentAt
    assert (a["channel"], b["channel"]) == ("app", "web")
    assert a["properties"] == {"utm_medium": "cpc"}
    assert [r["row"] for r in rows.rejects] == [3] and rows.rejects[0]["column"] == "userId/anonymousId"
    assert [e["row"] for e in rows.events] == [1, 2, 4]


def test_single_message_file(tmp_path):
    p = tmp_path / "one.json"
    p.write_text(json.dumps(TRACK), encoding="utf-8")
    assert [e["row"] for e in parse_file(p).events] == [1]


def test_empty_file(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    rows = parse_file(p)
    assert rows.messages == 0 and rows.events == [] and rows.rejects == []


def test_parse_messages_accepts_read_errors():
    rows = parse_messages([TRACK, ReadError("invalid JSON: x", "{x")], source="s")
    assert rows.rejects == [{"row": 2, "column": None, "reason": "invalid JSON: x", "raw": "{x"}]
