"""Killed with SIGKILL at random moments and restarted: every message arrives, none twice.

``parcours run`` runs in a subprocess against a real SMTP server and a real webhook receiver;
the test kills it anywhere (deciding, writing, sending), restarts it, and at the end compares
what the receivers kept (first of each Message-ID / Idempotency-Key) with what an
uninterrupted run decides. A crash between a send and its ``sent`` mark makes the channel
see the message again with the same id: the receivers drop it, and ``attempts`` shows it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from parcours.workspace import Workspace

from .conftest import SECRET, T0, act_yaml, customer

M = dt.timedelta(minutes=1)
UNTIL = (T0 + dt.timedelta(days=2)).isoformat()

SMS = """\
name: cart-sms
entry: {event: {event: add_to_cart}}
holdout: 0.2
steps:
  - wait: 2h
  - action: {kind: sms, message: {body: {fr: "Panier {entry[product]}", en: "Cart {entry[product]}"}}}
"""


def _build(make_ws, n: int):
    events = [{"customer_id": f"c{i}", "timestamp": T0 + (i % 50) * M, "event": "add_to_cart",
               "properties": {"product": f"p{i}"}} for i in range(n)]
    events += [{"customer_id": f"c{i}", "timestamp": T0 + 3 * 60 * M, "event": "purchase", "value": 10.0}
               for i in range(0, n, 7)]
    ws = make_ws([customer(i) for i in range(n)], events, {"cart": open_template("abandoned-cart"), "sms": SMS})
    path = ws.path
    ws.close()
    return path


def open_template(name: str) -> str:
    from parcours.act.scenario import template_text

    return template_text(name)


def _expected(path, tmp_path) -> tuple[set, set]:
    """What an uninterrupted run decides, on a copy of the workspace, sending nothing."""
    copy = tmp_path / "expected"
    shutil.copytree(path, copy)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "parcours.cli", "run", str(copy), "--until", UNTIL, "--no-deliver"],
                         capture_output=True, text=True)
    took = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    with Workspace.open(copy) as ws:
        rows = ws.store.fetch("SELECT message_id, channel FROM act_outbox")
    return ({f"<{m}@parcours>" for m, c in rows if c == "email"}, {m for m, c in rows if c == "sms"}), took


def _run(path, env, kill_after: float | None = None, kill_when=None):
    """Run ``parcours run``; SIGKILL it after ``kill_after`` seconds or once ``kill_when()`` holds."""
    proc = subprocess.Popen([sys.executable, "-m", "parcours.cli", "run", str(path), "--until", UNTIL],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_when is not None:
        deadline = time.monotonic() + 300
        while proc.poll() is None and not kill_when() and time.monotonic() < deadline:
            time.sleep(0.005)
        kill_after = 0
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err
    try:
        proc.wait(timeout=kill_after)
        return proc.returncode, proc.stderr.read()
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        return -9, b""


def _env():
    return {**os.environ, "PARCOURS_TEST_SECRET": SECRET, "PARCOURS_LANG": "en"}


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(make_ws, smtp_server, webhook_server, tmp_path):
    path = _build(make_ws, 60)
    act_yaml(path, smtp_port=smtp_server.port, hook_url=webhook_server.url, batch_size=20)
    (emails, sms), took = _expected(path, tmp_path)
    assert len(emails) > 60 and len(sms) > 30

    rng = random.Random(8)
    total = len(emails) + len(sms)
    received = lambda: len(smtp_server.raw) + len(webhook_server.raw)  # noqa: E731
    # one kill at a random time from start-up on (it may fall while deciding), then kills when
    # the receivers have seen a random number of messages (while sending)
    plan = [("time", rng.uniform(0.3, took))] + [("sent", k) for k in sorted(rng.sample(range(1, total), 4))]
    seen = []
    for kind, at in plan:
        if kind == "time":
            code, err = _run(path, _env(), kill_after=at)
        else:
            code, err = _run(path, _env(), kill_when=lambda: received() >= at)
        if code != -9:
            assert code == 0, err.decode()
            continue
        with Workspace.open(path) as ws:  # where the kill fell: decided states, messages sent
            seen.append(ws.store.fetch("SELECT (SELECT count(*) FROM act_state), (SELECT count(*) FROM "
                                       "act_outbox WHERE status = 'sent')")[0] if ws.store.has_table("act_state")
                        else (0, 0))
    code, err = _run(path, _env(), kill_after=None)  # the last restart, left to finish
    assert code == 0, err.decode()
    print("kills fell at (states, sent):", seen)
    assert sum(1 for _, sent in seen if 0 < sent < total) >= 2, seen  # killed while sending, twice or more

    # everything decided arrived, each id once in what the receivers kept
    assert set(smtp_server.messages) == emails
    assert set(webhook_server.messages) == sms
    assert webhook_server.rejected == 0
    with Workspace.open(path) as ws:
        status = dict(ws.store.fetch("SELECT status, count(*) FROM act_outbox GROUP BY 1"))
        assert status == {"sent": len(emails) + len(sms)}
        repeats = ws.store.scalar("SELECT count(*) FROM act_outbox WHERE attempts > 1")
        events = ws.store.fetch("SELECT count(*), count(DISTINCT event_id) FROM events WHERE event IN ('email_sent', 'sms_sent')")[0]
    assert events == (len(emails) + len(sms),) * 2
    # a repeat reaches a receiver only for a message cut between its send and its mark
    assert smtp_server.duplicates + webhook_server.duplicates <= repeats <= len(seen)


def test_crash_between_send_and_mark_resends_with_the_same_id(make_ws, smtp_server, webhook_server):
    path = _build(make_ws, 3)
    act_yaml(path, smtp_port=smtp_server.port, hook_url=webhook_server.url)
    code, _ = _run(path, {**_env(), "PARCOURS_FAILPOINT": "act_after_send"}, kill_after=None)
    assert code == -signal.SIGKILL
    assert len(smtp_server.raw) + len(webhook_server.raw) == 1
    code, err = _run(path, _env(), kill_after=None)
    assert code == 0, err.decode()
    assert smtp_server.duplicates + webhook_server.duplicates == 1  # the same id, seen twice, kept once
    with Workspace.open(path) as ws:
        assert ws.store.fetch("SELECT max(attempts), count(*) FILTER (WHERE attempts = 2), "
                              "count(*) FILTER (WHERE status <> 'sent') FROM act_outbox")[0] == (2, 1, 0)


def test_crash_inside_a_batch_transaction_leaves_nothing_half_done(make_ws, smtp_server, webhook_server):
    path = _build(make_ws, 10)
    act_yaml(path, smtp_port=smtp_server.port, hook_url=webhook_server.url, batch_size=4)
    code, _ = _run(path, {**_env(), "PARCOURS_FAILPOINT": "act_batch_before_commit"}, kill_after=None)
    assert code == -signal.SIGKILL
    with Workspace.open(path) as ws:  # the batch's states, messages and events went together
        assert ws.store.fetch("SELECT (SELECT count(*) FROM act_state), (SELECT count(*) FROM act_outbox), "
                              "(SELECT count(*) FROM events WHERE starts_with(event_id, 'act:'))")[0] == (0, 0, 0)
    assert not smtp_server.raw and not webhook_server.raw
    code, err = _run(path, _env(), kill_after=None)
    assert code == 0, err.decode()
    with Workspace.open(path) as ws:
        sent = ws.store.fetch("SELECT channel, count(*) FROM act_outbox WHERE status = 'sent' GROUP BY 1 ORDER BY 1")
    assert dict(sent) == {"email": len(smtp_server.messages), "sms": len(webhook_server.messages)}
    assert smtp_server.duplicates == webhook_server.duplicates == 0 and smtp_server.messages
