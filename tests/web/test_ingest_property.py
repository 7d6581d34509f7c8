"""What ingestion stores equals a plain-Python reference, on many random request sequences.

A real uvicorn runs in a thread of the test process, so the test reads the store through a
second connection while the server keeps running. Each example uses its own id prefix.
"""

from __future__ import annotations

import datetime as dt
import itertools
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.web.app import create_app

from .conftest import new_workspace

T0 = dt.datetime(2024, 3, 4, 8, 0)


@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    path, write, _ = new_workspace(tmp_path_factory.mktemp("prop") / "ws")
    app = create_app(path, refresh_interval=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=(write, ""), timeout=60) as client:
        yield client, app.state.server
    server.should_exit = True
    thread.join(30)


# A message: (messageId index or None, user index, event or None = invalid, seconds after T0)
messages = st.tuples(st.one_of(st.none(), st.integers(0, 5)), st.integers(0, 2),
                     st.one_of(st.none(), st.sampled_from(["view", "cart", "buy"]), st.sampled_from(["view"])),
                     st.sampled_from([0, 0, 60, 3600]))  # ties are common
requests = st.lists(st.tuples(st.booleans(), st.lists(messages, min_size=1, max_size=5)), min_size=1, max_size=6)
_examples = itertools.count()


def _message(prefix: str, m) -> dict:
    mid, user, event, seconds = m
    out = {"type": "track", "userId": f"{prefix}u{user}",
           "timestamp": (T0 + dt.timedelta(seconds=seconds)).isoformat() + "Z"}
    if mid is not None:
        out["messageId"] = f"{prefix}m{mid}"
    if event is not None:
        out["event"] = event
    return out


def reference(prefix: str, reqs) -> tuple[list[int], dict]:
    """Expected statuses, and the stored events by key: first of each messageId (or of each
    identical content when there is none) among requests with no invalid message."""
    statuses, stored = [], {}
    for as_batch, msgs in reqs:
        if not as_batch:
            msgs = msgs[:1]
        if any(m[2] is None for m in msgs):
            statuses.append(400)
            continue
        statuses.append(200)
        for m in msgs:
            key = f"{prefix}m{m[0]}" if m[0] is not None else ("content", m[1], m[2], m[3])
            stored.setdefault(key, (f"{prefix}u{m[1]}", m[2], T0 + dt.timedelta(seconds=m[3])))
    return statuses, stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests)
def test_stored_events_match_the_reference(threaded, reqs):
    client, server = threaded
    prefix = f"x{next(_examples)}-"
    statuses = []
    for as_batch, msgs in reqs:
        if as_batch:
            r = client.post("/v1/batch", json={"batch": [_message(prefix, m) for m in msgs]})
        else:
            r = client.post("/v1/track", json=_message(prefix, msgs[0]))
        statuses.append(r.status_code)
    want_status, want = reference(prefix, reqs)
    assert statuses == want_status
    rows = server.fetch("""SELECT event_id, customer_id, event, "timestamp" FROM events
                           WHERE customer_id LIKE ? ORDER BY _seq""", [prefix + "%"])
    got = {}
    for event_id, customer, event, ts in rows:
        key = event_id if not event_id.startswith("h:") else \
            ("content", int(customer.removeprefix(prefix + "u")), event, int((ts - T0).total_seconds()))
        assert key not in got, f"{key} stored twice"
        got[key] = (customer, event, ts)
    assert got == want
