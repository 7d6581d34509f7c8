"""Segment-compatible ingestion: /v1/track, identify, page, screen, group, alias and batch.

Thin over ``data/segment.py``: a request is read within its size limit, parsed, checked
message by message with the importer's own reasons (a bad message answers 400 naming the
field, and nothing of that request is stored), then handed to the writer, and answered 200
only once its transaction has committed (``writer.py``). ``receivedAt`` is the server's
clock, as in Segment, so a device's clock skew is corrected from its ``sentAt``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from ..data.segment import MESSAGE_TYPES, SegmentRows, batch_messages, parse_messages
from .auth import write_key, read_key
from .errors import ApiError, responses
from .writer import Busy

router = APIRouter()

# What segment.py accepts, as it accepts it (ids may be numbers, empty text means absent);
# which combinations a message needs is checked there and answered 400 naming the field.
_TIME = {"type": ["string", "null"], "description": "ISO 8601, e.g. 2024-03-04T08:00:00Z."}
_ID = {"type": ["string", "number", "null"]}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_OBJECT = {"type": ["object", "null"], "additionalProperties": True}
#: the fields each type reads (segment.py); others are kept in the raw message, unchecked.
_COMMON = {"messageId": _ID, "userId": _ID, "timestamp": _TIME, "originalTimestamp": _TIME, "sentAt": _TIME}
_FIELDS = {
    "track": {"anonymousId": _ID, "event": _SCALAR, "properties": _OBJECT, "context": _OBJECT},
    "page": {"anonymousId": _ID, "name": _SCALAR, "properties": _OBJECT, "context": _OBJECT},
    "screen": {"anonymousId": _ID, "name": _SCALAR, "properties": _OBJECT, "context": _OBJECT},
    "identify": {"anonymousId": _ID, "traits": _OBJECT, "context": _OBJECT},
    "group": {"anonymousId": _ID, "groupId": _ID, "traits": _OBJECT},
    "alias": {"previousId": _ID},
}


def message_schema(kind: str, in_batch: bool = False) -> dict:
    """A message of ``kind``; at its own endpoint its type may be left out."""
    return {"type": "object", "additionalProperties": True, "required": ["type"] if in_batch else [],
            "properties": {"type": {"enum": [kind] if in_batch else [kind, "", None]},
                           **_COMMON, **_FIELDS[kind]}}


BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "properties": {"batch": {"type": "array", "minItems": 1,
                             "items": {"oneOf": [message_schema(k, in_batch=True) for k in MESSAGE_TYPES]}},
                   "sentAt": _TIME, "context": _OBJECT},
}


class Accepted(BaseModel):
    """The request's messages are committed to the store."""

    success: bool = True
    received: int


class Refreshed(BaseModel):
    success: bool = True
    stats: dict[str, Any]


def _body_doc(schema: dict, example: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}}


async def _read(request: Request, limit: int, what: str) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes."""
    too_big = ApiError(413, f"{what} is larger than the limit of {limit // 1024} KB")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _text(body: bytes) -> str:
    if not body.strip():
        raise ApiError(400, "the request body is empty: expected a JSON object")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text") from None


def _checked(doc: Any, body: bytes) -> Any:
    if b"\\ud" in body.lower():  # an escaped surrogate: valid JSON, but alone it is no character
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "the JSON holds a lone UTF-16 surrogate (\\uD800-\\uDFFF): not valid text") from None
    return doc


def _invalid(exc: json.JSONDecodeError) -> ApiError:
    return ApiError(400, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def _json(body: bytes) -> Any:
    try:
        return _checked(json.loads(_text(body)), body)
    except json.JSONDecodeError as exc:
        raise _invalid(exc) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, f"invalid JSON: {exc}") from None


def _load_batch(body: bytes) -> tuple[Any, list[int]]:
    """``json.loads`` of a batch body, and the size in bytes of each message of ``batch``.

    The top-level object is walked here and every value decoded by the json module's C
    scanner, so the body is read once; the spans give each message's size as sent, which
    re-encoding every message to measure it would cost as much again.
    """
    text = _text(body)
    i = _SPACE.match(text).end()
    if not text.startswith("{", i):
        return _json(body), []
    doc: dict = {}
    spans: list[tuple[int, int]] = []

    def expect(char: str, at: int) -> int:
        if not text.startswith(char, at):
            raise json.JSONDecodeError(f"Expecting '{char}' delimiter", text, at)
        return _SPACE.match(text, at + 1).end()

    try:
        i = _SPACE.match(text, i + 1).end()
        while not text.startswith("}", i):
            if not text.startswith('"', i):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = _DECODER.raw_decode(text, i)
            i = expect(":", _SPACE.match(text, i).end())
            if key == "batch" and text.startswith("[", i):
                value, spans = [], []
                i = _SPACE.match(text, i + 1).end()
                while not text.startswith("]", i):
                    item, end = _DECODER.raw_decode(text, i)
                    value.append(item)
                    spans.append((i, end))
                    i = _SPACE.match(text, end).end()
                    if not text.startswith("]", i):
                        i = expect(",", i)
                        if text.startswith("]", i):
                            raise json.JSONDecodeError("Expecting value", text, i)
                i += 1
            else:
                value, i = _DECODER.raw_decode(text, i)
            doc[key] = value
            i = _SPACE.match(text, i).end()
            if not text.startswith("}", i):
                i = expect(",", i)
                if text.startswith("}", i):
                    raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
        i = _SPACE.match(text, i + 1).end()
        if i != len(text):
            raise json.JSONDecodeError("Extra data", text, i)
    except json.JSONDecodeError as exc:
        raise _invalid(exc) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, f"invalid JSON: {exc}") from None
    if body.isascii():
        sizes = [b - a for a, b in spans]
    else:
        sizes = [len(text[a:b].encode("utf-8", "surrogatepass")) for a, b in spans]
    return _checked(doc, body), sizes


def _check_sizes(sizes: list[int], limit: int) -> None:
    """Each message's size as sent (bytes of its JSON text) against ``limit``."""
    for i, size in enumerate(sizes):
        if size > limit:
            raise ApiError(413, f"message {i} is {size} bytes, over the limit of {limit // 1024} KB "
                           "per message", field=f"batch[{i}]")


def _parse(messages: list, received_at: dt.datetime, in_batch: bool) -> SegmentRows:
    for msg in messages:
        if isinstance(msg, dict):
            msg.pop("receivedAt", None)  # the server's clock, not the sender's (Segment spec)
    rows = parse_messages(messages, source="http", received_at=received_at)
    if rows.rejects:
        errors = [{"index": r["row"] - 1, "field": r["column"], "reason": r["reason"]} for r in rows.rejects]
        first = errors[0]
        where = f"batch[{first['index']}]" if in_batch else ""
        field = ".".join(p for p in (where, first["field"]) if p) or None
        detail = first["reason"] if not in_batch else f"message {first['index']}: {first['reason']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more invalid messages: see errors)"
        raise ApiError(400, detail + "; nothing of this request was stored", field=field,
                       errors=errors if in_batch else None)
    return rows


async def _store(request: Request, rows: SegmentRows) -> Accepted:
    writer = request.app.state.server.writer
    try:
        future = writer.submit(rows)
    except Busy as exc:
        raise ApiError(429, "too many events waiting to be written: retry later", headers={"Retry-After": str(exc.retry_after)}) from None
    try:
        await future
    except Exception as exc:  # noqa: BLE001 - the write failed: nothing acknowledged, retry
        raise ApiError(503, f"the store could not write these events ({exc}): retry later",
                       headers={"Retry-After": "5"}) from None
    return Accepted(received=rows.messages)


INGEST_ERRORS = responses(400, 401, 403, 413, 429, 503)


def _single(kind: str):
    async def ingest(request: Request) -> Accepted:
        limits = request.app.state.server.limits
        now = dt.datetime.now(dt.timezone.utc)
        msg = _json(await _read(request, limits.message_bytes, "a message"))
        if not isinstance(msg, dict):
            raise ApiError(400, f"expected a JSON object, got {type(msg).__name__}")
        given = msg.get("type")
        if given not in (None, "", kind):
            raise ApiError(400, f"type is {given!r} but this endpoint takes {kind} messages", field="type")
        msg["type"] = kind
        return await _store(request, _parse([msg], now, in_batch=False))

    ingest.__name__ = f"ingest_{kind}"
    ingest.__doc__ = f"Store one Segment `{kind}` message (200 once committed)."
    return ingest


_EXAMPLES = {
    "track": {"userId": "c-42", "event": "add_to_cart", "properties": {"sku": "A1", "revenue": 19.9},
              "messageId": "m-1", "timestamp": "2024-03-04T08:00:00Z"},
    "identify": {"userId": "c-42", "anonymousId": "a-7", "traits": {"email": "x@example.com"}},
    "page": {"anonymousId": "a-7", "name": "pricing", "timestamp": "2024-03-04T08:00:00Z"},
    "screen": {"userId": "c-42", "name": "home", "timestamp": "2024-03-04T08:00:00Z"},
    "group": {"userId": "c-42", "groupId": "acme", "traits": {"plan": "pro"}},
    "alias": {"userId": "c-42", "previousId": "a-7"},
}

for _kind in MESSAGE_TYPES:
    router.add_api_route(
        f"/v1/{_kind}", _single(_kind), methods=["POST"], response_model=Accepted, tags=["ingestion"],
        dependencies=[Depends(write_key)], responses=INGEST_ERRORS,
        openapi_extra=_body_doc(message_schema(_kind), _EXAMPLES[_kind]),
    )


@router.post("/v1/batch", response_model=Accepted, tags=["ingestion"], dependencies=[Depends(write_key)],
             responses=INGEST_ERRORS,
             openapi_extra=_body_doc(BATCH_SCHEMA, {"batch": [{"type": "track", **_EXAMPLES["track"]}],
                                                    "sentAt": "2024-03-04T08:00:01Z"}))
async def ingest_batch(request: Request) -> Accepted:
    """Store a batch of messages of any type, all or nothing (200 once committed)."""
    limits = request.app.state.server.limits
    now = dt.datetime.now(dt.timezone.utc)
    body = await _read(request, limits.batch_bytes, "a batch")
    doc, sizes = _load_batch(body)
    if not isinstance(doc, dict):
        raise ApiError(400, f"expected a JSON object with a batch array, got {type(doc).__name__}")
    if not isinstance(doc.get("batch"), list):
        raise ApiError(400, "batch is missing or not an array of messages", field="batch")
    if not doc["batch"]:
        raise ApiError(400, "batch is empty", field="batch")
    if doc.get("context") is not None and not isinstance(doc["context"], dict):
        raise ApiError(400, f"context must be a JSON object, got {type(doc['context']).__name__}", field="context")
    doc.pop("receivedAt", None)
    _check_sizes(sizes, limits.message_bytes)
    messages = batch_messages(doc)
    return await _store(request, _parse(messages, now, in_batch=True))


@router.post("/v1/refresh", response_model=Refreshed, tags=["ingestion"], dependencies=[Depends(read_key)],
             responses=responses(401, 403, 503))
async def refresh(request: Request) -> Refreshed:
    """Stitch identities and assign stages now, instead of waiting for the background refresh."""
    try:
        stats = await request.app.state.server.refresher.request()
    except Exception as exc:  # noqa: BLE001
        raise ApiError(503, f"the refresh failed: {exc}", headers={"Retry-After": "5"}) from None
    return Refreshed(stats=stats)


__all__ = ["router", "message_schema", "BATCH_SCHEMA"]
