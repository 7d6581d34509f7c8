"""The scheduler of a long-running process: entries and waits fire on the wall clock."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from parcours.act.engine import on_ingest
from parcours.act.scheduler import Scheduler

from conftest import act_yaml, customer

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
