"""Segment-spec messages (track, identify, page, screen, group, alias; batches) to canonical rows.

``read_segment_file`` reads JSON Lines, a JSON array or a ``{"batch": [...]}`` object and yields
``(row, message)`` pairs, or ``(row, ReadError)`` for a line that is broken JSON or not UTF-8.
``parse_messages`` (and ``parse_file``) turns messages into rows of the canonical tables of
``schema.py``: ``events``, ``customers`` and ``identities``, plus ``rejects`` for the bad ones.
Nothing here touches the store; the importer writes the rows. The mapping is documented in
``docs/segment.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .schema import CUSTOMERS, EVENTS, IDENTITIES, MAX_ID, MAX_JSON, MAX_NAME

UTC = dt.timezone.utc

MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
#: Segment's ``channel`` values to the channels of parcours.
CHANNELS = {"browser": "web", "mobile": "app", "server": "server"}
#: property keys read as the event's value, first present wins.
VALUE_KEYS = ("revenue", "total", "value")
#: context.campaign keys to flat utm_* properties.
CAMPAIGN_KEYS = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium",
                 "term": "utm_term", "content": "utm_content"}
#: fields holding ids, checked against MAX_ID.
ID_FIELDS = ("messageId", "userId", "anonymousId", "groupId", "previousId")


@dataclass(frozen=True)
class ReadError:
    """A line (or message) the reader could not turn into a JSON value."""

    reason: str
    raw: str = ""
    column: str | None = None


@dataclass
class SegmentRows:
    """Canonical rows from a list of messages; every row carries its source ``row`` number."""

    source: str = ""
    events: list[dict] = field(default_factory=list)
    customers: list[dict] = field(default_factory=list)
    identities: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    #: messages read (accepted or rejected).
    messages: int = 0

    def to_dict(self) -> dict:
        return {"source": self.source, "messages": self.messages, "events": len(self.events),
                "customers": len(self.customers), "identities": len(self.identities),
                "rejected": len(self.rejects)}


class _Reject(Exception):
    def __init__(self, column: str | None, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


# -- reading files ---------------------------------------------------------------------------


def _raw_text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _has_surrogates(value: Any) -> bool:
    """True when a string decoded with surrogateescape carried bytes that are not UTF-8."""
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def _apply_batch(batch: dict, message: Any) -> Any:
    """Batch-level sentAt, receivedAt and context apply to messages that do not set them."""
    if not isinstance(message, dict):
        return message
    out = dict(message)
    for key in ("sentAt", "receivedAt"):
        if key in batch and out.get(key) is None:
            out[key] = batch[key]
    if isinstance(batch.get("context"), dict):
        ctx = dict(batch["context"])
        if isinstance(out.get("context"), dict):
            ctx.update(out["context"])
        out["context"] = ctx
    return out


def _iter_document(value: Any) -> Iterator[tuple[int, Any]]:
    """Messages of a parsed JSON document: an array, a batch object or one message."""
    if isinstance(value, list):
        yield from enumerate(value, start=1)
    elif isinstance(value, dict) and isinstance(value.get("batch"), list):
        for i, msg in enumerate(value["batch"], start=1):
            yield i, _apply_batch(value, msg)
    else:
        yield 1, value


def _checked(row: int, msg: Any) -> tuple[int, Any]:
    if _has_surrogates(msg):
        raw = json.dumps(msg, ensure_ascii=False, default=str).encode("utf-8", "surrogateescape")
        return row, ReadError("text is not valid UTF-8", _raw_text(raw))
    return row, msg


def read_segment_file(path: str | Path) -> Iterator[tuple[int, dict | ReadError]]:
    """Yield ``(row, message)`` or ``(row, ReadError)`` for each message of a Segment file.

    JSON Lines: ``row`` is the line number; blank lines are skipped, a line that is not JSON or
    not UTF-8 gives a ``ReadError`` and the other lines are kept. A JSON array or a batch object
    ``{"batch": [...], "sentAt": ..., "context": ...}``: ``row`` is the 1-based position in the
    array; the batch's sentAt, receivedAt and context apply to its messages. A document that does
    not parse at all gives one ``ReadError`` at the line of the JSON error.
    """
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="surrogateescape")
    stripped = text.lstrip()
    if not stripped:
        return
    whole: Any = None
    parsed = False
    if stripped[0] == "[":
        try:
            whole = json.loads(text)
            parsed = True
        except json.JSONDecodeError as exc:
            yield exc.lineno, ReadError(f"invalid JSON array: {exc.msg} (line {exc.lineno}, "
                                        f"column {exc.colno})", _raw_text(data[:2000]))
            return
    elif stripped[0] == "{":
        try:
            whole = json.loads(text)
            parsed = True
        except json.JSONDecodeError:
            parsed = False  # JSON Lines (or broken): read line by line
    if parsed:
        for row, msg in _iter_document(whole):
            yield _checked(row, msg)
        return
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, ReadError(f"line is not valid UTF-8 (byte {exc.start + 1}: "
                                    f"{line[exc.start:exc.start + 1]!r})", _raw_text(line))
            continue
        try:
            value = json.loads(decoded)
        except json.JSONDecodeError as exc:
            yield lineno, ReadError(f"invalid JSON: {exc.msg} (column {exc.colno})", decoded.rstrip("\r"))
            continue
        if isinstance(value, dict) and isinstance(value.get("batch"), list):
            # a batch object on one line: its messages share the line number
            for _, msg in _iter_document(value):
                yield lineno, msg
        else:
            yield lineno, value


# -- values ----------------------------------------------------------------------------------


def parse_time(value: Any, column: str) -> dt.datetime | None:
    """An ISO 8601 string (offsets applied; no offset means UTC) or a datetime, to aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            out = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _Reject(column, f"unparseable timestamp {value!r} (expected ISO 8601)") from None
    elif isinstance(value, dt.date):
        out = dt.datetime(value.year, value.month, value.day)
    else:
        raise _Reject(column, f"unparseable timestamp {value!r} (expected an ISO 8601 string)")
    if out.tzinfo is None:
        return out.replace(tzinfo=UTC)
    try:
        return out.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise _Reject(column, f"timestamp {value!r} is out of range in UTC (years 1 to 9999)") from None


def message_time(msg: dict, received_at: dt.datetime | None = None) -> dt.datetime | None:
    """Segment's clock-skew correction.

    With ``sentAt`` and ``receivedAt`` (the message's, else ``received_at``):
    ``receivedAt - (sentAt - (originalTimestamp or timestamp))``; without them ``timestamp``,
    else ``originalTimestamp``, else ``receivedAt``.
    """
    ts = parse_time(msg.get("timestamp"), "timestamp")
    original = parse_time(msg.get("originalTimestamp"), "originalTimestamp")
    sent = parse_time(msg.get("sentAt"), "sentAt")
    received = parse_time(msg.get("receivedAt"), "receivedAt")
    if received is None and received_at is not None:
        received = parse_time(received_at, "receivedAt")
    base = original or ts
    if sent is not None and received is not None and base is not None:
        try:
            return received - (sent - base)
        except OverflowError:  # e.g. sentAt in year 9000: the corrected time is before year 1
            raise _Reject("sentAt", f"sentAt {msg.get('sentAt')!r} is too far from the event's time "
                                    "for the clock-skew correction") from None
    return ts or original or received


def _id(msg: dict, key: str) -> str | None:
    value = msg.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Reject(key, f"{key} must be a string, got {type(value).__name__}")
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if len(text) > MAX_ID:
        raise _Reject(key, f"{key} is {len(text)} characters long, over the maximum of {MAX_ID}")
    return text


def _text(value: Any, column: str, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise _Reject(column, f"{column} must be text, got {type(value).__name__}")
    text = str(value)
    if len(text) > max_length:
        raise _Reject(column, f"{column} is {len(text)} characters long, over the maximum of {max_length}")
    return text


def _number(value: Any, column: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Reject(column, f"{column} is not a number: {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past 1e308
        raise _Reject(column, f"{column} is not a number: {value!r}") from None
    if not math.isfinite(out):
        raise _Reject(column, f"{column} is not a finite number: {value!r}")
    return out


def _json_size(value: dict, column: str) -> dict:
    size = len(json.dumps(value, ensure_ascii=False, default=str))
    if size > MAX_JSON:
        raise _Reject(column, f"{column} is {size} characters of JSON, over the maximum of {MAX_JSON}")
    return value


def _obj(msg: dict, key: str) -> dict:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Reject(key, f"{key} must be a JSON object, got {type(value).__name__}")
    return value


def _raw(msg: Any) -> str:
    try:
        return json.dumps(msg, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(msg)


# -- messages to rows ------------------------------------------------------------------------


def _context_properties(ctx: dict) -> dict:
    """Useful context kept with the event: campaign as utm_*, device, os, locale, page url."""
    out: dict = {}
    campaign = ctx.get("campaign")
    if isinstance(campaign, dict):
        for key, target in CAMPAIGN_KEYS.items():
            if campaign.get(key) not in (None, ""):
                out[target] = campaign[key]
    device = ctx.get("device")
    if isinstance(device, dict) and device.get("type"):
        out["device_type"] = device["type"]
    os_ = ctx.get("os")
    if isinstance(os_, dict) and os_.get("name"):
        out["os"] = os_["name"]
    if ctx.get("locale"):
        out["locale"] = ctx["locale"]
    page = ctx.get("page")
    if isinstance(page, dict):
        for key in ("url", "referrer"):
            if page.get(key):
                out[key] = page[key]
    return out


def _event_row(msg: dict, kind: str, received_at) -> dict:
    user_id, anon_id = _id(msg, "userId"), _id(msg, "anonymousId")
    if user_id is None and anon_id is None:
        raise _Reject("userId/anonymousId", f"{kind} message has neither userId nor anonymousId")
    event_id = _id(msg, "messageId")
    ctx = _obj(msg, "context")
    props = dict(_obj(msg, "properties"))
    if kind == "track":
        name = msg.get("event")
        if name is None or (isinstance(name, str) and not name.strip()):
            raise _Reject("event", "track message without an event name")
        event = _text(name, "event", MAX_NAME)
        touchpoint = props.pop("touchpoint", None)
        tp_column = "properties.touchpoint"
    elif kind == "page":
        event = "page_view"
        touchpoint, tp_column = msg.get("name"), "name"
        if touchpoint in (None, ""):
            touchpoint, tp_column = props.pop("path", None), "properties.path"
        if touchpoint in (None, ""):
            page = ctx.get("page")
            touchpoint = page.get("path") if isinstance(page, dict) else None
            tp_column = "context.page.path"
    else:  # screen
        event = "screen_view"
        touchpoint, tp_column = msg.get("name"), "name"
    if kind in ("page", "screen") and msg.get("category") not in (None, ""):
        props.setdefault("category", msg["category"])
    touchpoint = _text(touchpoint, tp_column, MAX_NAME)

    channel = props.pop("channel", None)
    ch_column = "properties.channel"
    if channel in (None, ""):
        channel, ch_column = ctx.get("channel"), "context.channel"
        if channel in (None, ""):
            channel, ch_column = msg.get("channel"), "channel"
        if isinstance(channel, str):
            channel = CHANNELS.get(channel.lower(), channel.lower())
    if channel in (None, ""):
        channel = {"page": "web", "screen": "app"}.get(kind)
    channel = _text(channel, ch_column, MAX_NAME)

    value = None
    for key in VALUE_KEYS:
        if props.get(key) not in (None, ""):
            value = _number(props.pop(key), f"properties.{key}")
            break
    currency = props.pop("currency", None)
    if isinstance(currency, str):
        currency = currency.strip().upper()
    currency = _text(currency, "properties.currency", EVENTS.column("currency").max_length or 3)

    account = ctx.get("groupId")
    acc_column = "context.groupId"
    if account in (None, ""):
        account, acc_column = props.pop("account_id", None), "properties.account_id"
    if account is not None and not isinstance(account, (str, int)):
        raise _Reject(acc_column, f"{acc_column} must be a string")
    account = _text(account, acc_column, MAX_ID)

    for key, val in _context_properties(ctx).items():
        props.setdefault(key, val)
    _json_size(props, "properties")
    timestamp = message_time(msg, received_at)
    if timestamp is None:
        raise _Reject("timestamp", "no timestamp (timestamp, originalTimestamp or receivedAt)")
    return {"event_id": event_id, "customer_id": user_id, "anonymous_id": anon_id,
            "account_id": account, "timestamp": timestamp, "event": event, "channel": channel,
            "touchpoint": touchpoint, "value": value, "currency": currency, "properties": props}


def _identify(msg: dict, received_at, out: SegmentRows, row: int) -> None:
    user_id, anon_id = _id(msg, "userId"), _id(msg, "anonymousId")
    if user_id is None and anon_id is None:
        raise _Reject("userId/anonymousId", "identify message has neither userId nor anonymousId")
    ctx = _obj(msg, "context")
    traits = dict(_obj(msg, "traits"))
    if not traits and isinstance(ctx.get("traits"), dict):
        traits = dict(ctx["traits"])
    created = None
    for key in ("createdAt", "created_at"):
        if key in traits:
            created = parse_time(traits.pop(key), f"traits.{key}")
            break
    account = ctx.get("groupId")
    acc_column = "context.groupId"
    if account in (None, ""):
        account, acc_column = traits.get("account_id"), "traits.account_id"
    account = _text(account, acc_column, MAX_ID)
    _json_size(traits, "traits")
    timestamp = message_time(msg, received_at)
    if user_id is not None:
        out.customers.append({"customer_id": user_id, "account_id": account, "created_at": created,
                              "attributes": traits, "row": row})
    if user_id is not None and anon_id is not None:
        out.identities.append({"alias_id": anon_id, "customer_id": user_id, "source": "identify",
                               "timestamp": timestamp, "row": row})


def _group(msg: dict, received_at, out: SegmentRows, row: int) -> None:
    group_id = _id(msg, "groupId")
    if group_id is None:
        raise _Reject("groupId", "group message without groupId")
    user_id = _id(msg, "userId")
    _id(msg, "anonymousId")
    if user_id is None:
        raise _Reject("userId", "group message without userId: the account cannot be attached to a customer")
    traits = dict(_obj(msg, "traits"))
    attributes = {"account_traits": traits} if traits else {}
    _json_size(attributes, "traits")
    message_time(msg, received_at)  # reject unparseable timestamps here too
    out.customers.append({"customer_id": user_id, "account_id": group_id, "created_at": None,
                          "attributes": attributes, "row": row})


def _alias(msg: dict, received_at, out: SegmentRows, row: int) -> None:
    previous = _id(msg, "previousId")
    if previous is None:
        raise _Reject("previousId", "alias message without previousId")
    user_id = _id(msg, "userId")
    if user_id is None:
        raise _Reject("userId", "alias message without userId")
    timestamp = message_time(msg, received_at)
    out.identities.append({"alias_id": previous, "customer_id": user_id, "source": "alias",
                           "timestamp": timestamp, "row": row})


def _parse_one(msg: Any, row: int, received_at, out: SegmentRows) -> None:
    if isinstance(msg, ReadError):
        raise _Reject(msg.column, msg.reason)
    if not isinstance(msg, dict):
        raise _Reject(None, f"not a JSON object but {type(msg).__name__}")
    kind = msg.get("type")
    if kind in (None, ""):
        raise _Reject("type", "missing type (expected one of " + ", ".join(MESSAGE_TYPES) + ")")
    if not isinstance(kind, str) or kind.strip().lower() not in MESSAGE_TYPES:
        raise _Reject("type", f"unknown type {kind!r} (expected one of {', '.join(MESSAGE_TYPES)})")
    kind = kind.strip().lower()
    _id(msg, "messageId")
    if kind in ("track", "page", "screen"):
        ev = _event_row(msg, kind, received_at)
        ev["row"] = row
        out.events.append(ev)
    elif kind == "identify":
        _identify(msg, received_at, out, row)
    elif kind == "group":
        _group(msg, received_at, out, row)
    else:
        _alias(msg, received_at, out, row)


def _parse_rows(items: Iterable[tuple[int, Any]], source: str, received_at) -> SegmentRows:
    out = SegmentRows(source=source)
    if isinstance(received_at, str):
        received_at = parse_time(received_at, "receivedAt")
    elif isinstance(received_at, dt.datetime):
        received_at = received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at.astimezone(UTC)
    for row, msg in items:
        out.messages += 1
        n = (len(out.events), len(out.customers), len(out.identities))
        try:
            _parse_one(msg, row, received_at, out)
        except _Reject as rej:
            # a message is all or nothing: drop what it may have added before failing
            del out.events[n[0]:], out.customers[n[1]:], out.identities[n[2]:]
            raw = msg.raw if isinstance(msg, ReadError) else _raw(msg)
            out.rejects.append({"row": row, "column": rej.column, "reason": rej.reason, "raw": raw})
    return out


def parse_messages(messages: Iterable[dict], *, source: str, start_row: int = 1,
                   received_at: dt.datetime | None = None) -> SegmentRows:
    """Canonical rows from Segment messages; message ``i`` (0-based) is row ``start_row + i``.

    An item may also be a ``ReadError`` (from ``read_segment_file``): it becomes a reject.
    ``received_at`` stands for the messages' ``receivedAt`` when they have none.
    """
    return _parse_rows(enumerate(messages, start=start_row), source, received_at)


def batch_messages(batch: dict) -> list:
    """The messages of a batch object ``{"batch": [...]}``, its sentAt, receivedAt and context
    applied to those that do not set their own (what a file import does too)."""
    return [msg for _, msg in _iter_document(batch)]


def parse_file(path: str | Path, *, source: str | None = None,
               received_at: dt.datetime | None = None) -> SegmentRows:
    """``read_segment_file`` then ``parse_messages``, keeping the reader's row numbers."""
    return _parse_rows(read_segment_file(path), source or str(path), received_at)


#: canonical column names each list of SegmentRows holds (plus ``row``).
COLUMNS = {"events": EVENTS.names, "customers": CUSTOMERS.names,
           "identities": [c for c in IDENTITIES.names if c not in ("status", "reason")]}

__all__ = ["ReadError", "SegmentRows", "parse_messages", "parse_file", "read_segment_file", "batch_messages",
           "parse_time", "message_time", "MESSAGE_TYPES", "CHANNELS", "COLUMNS"]
