"""The scheduler of a long-running process: entries and waits fire on the wall clock."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from parcours.act.engine import on_ingest
from parcours.act.scheduler import Scheduler

from .conftest import act_yaml, customer

WELCOME = """\
name: welcome
entry: {event: {event: signup}}
holdout: 0
steps:
  - id: hello
    action: {kind: email, message: {subject: {fr: Bonjour, en: Hello}, body: {fr: b, en: b}}}
  - wait: 2s
  - id: again
    action: {kind: email, message: {subject: {fr: Rebonjour, en: Hello again}, body: {fr: b, en: b}}}
"""


def test_ingestion_enters_and_the_scheduler_ends_the_wait(make_ws, smtp_server):
    ws = make_ws([customer(1)], [], {"welcome": WELCOME})
    act_yaml(ws.path, smtp_port=smtp_server.port)
    sched = Scheduler(ws, interval=0.3)
    try:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        ws.import_events(pd.DataFrame([{"customer_id": "c1", "timestamp": now, "event": "signup"}]))
        on_ingest(ws)  # what the server does after an ingestion
        assert [m["subject"] for m in smtp_server.messages.values()] == ["Hello"]
        sched.start()
        deadline = time.monotonic() + 20
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sched.stop()
    assert sorted(m["subject"] for m in smtp_server.messages.values()) == ["Hello", "Hello again"]
    assert sched.runs >= 1 and sched.last_error is None and smtp_server.duplicates == 0


def test_concurrent_runs_on_one_store_do_each_step_once(make_ws, smtp_server):
    """The server's ingestion and its scheduler may call the engine at the same time."""
    import threading

    from parcours.act.engine import run_due

    ws = make_ws([customer(i) for i in range(30)],
                 [{"customer_id": f"c{i}", "timestamp": dt.datetime(2024, 3, 4, 10), "event": "signup"}
                  for i in range(30)], {"welcome": WELCOME})
    act_yaml(ws.path, smtp_port=smtp_server.port, batch_size=4)
    until = dt.datetime(2024, 3, 4, 11)
    errors = []

    def go():
        try:
            run_due(ws, until)
        except Exception as exc:  # pragma: no cover - shown by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(smtp_server.messages) == 60 and smtp_server.duplicates == 0
    assert ws.store.scalar("SELECT count(*) FROM act_state") == 30
