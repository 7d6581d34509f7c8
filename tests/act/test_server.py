"""Orchestration inside the server: an event ingested over HTTP makes a scenario send its
e-mail, through a real SMTP server on 127.0.0.1, with no `parcours run`."""

from __future__ import annotations

import datetime as dt
import json
import time

import pandas as pd

from parcours.workspace import Workspace

from ..web.conftest import Live, new_workspace
from .conftest import act_yaml, customer

WELCOME = """name: cart-now
entry:
  event: {event: add_to_cart}
  reentry: once
holdout: 0
steps:
  - id: hello
    action:
      kind: email
      message:
        subject: {fr: "Bonjour {first_name}", en: "Hello {first_name}"}
        body: {fr: "Votre panier : {entry[product]}", en: "Your cart: {entry[product]}"}
"""


def _wait_for(predicate, seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_ingested_event_fires_its_scenario(tmp_path, smtp_server):
    path, write, read = new_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        ws.import_customers(pd.DataFrame([customer(1), customer(2, consent_email=False)]))
    act_yaml(path, smtp_port=smtp_server.port)
    (path / "scenarios").mkdir()
    (path / "scenarios" / "cart-now.yaml").write_text(WELCOME, encoding="utf-8")
    live = Live(path, write, read, "--refresh-every", "1", "--act-every", "1").start()
    try:
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        with live.writer() as c:
            for uid in ("c1", "c2"):
                r = c.post("/v1/track", json={"userId": uid, "event": "add_to_cart", "timestamp": now,
                                              "messageId": f"m-{uid}", "properties": {"product": "Vélo"}})
                assert r.status_code == 200, r.text
        assert _wait_for(lambda: smtp_server.to("c1@example.org")), "no e-mail within 90 s"
        (mail,) = smtp_server.to("c1@example.org")
        assert mail["subject"] == "Hello Prénom1" and "Your cart: Vélo" in mail["body"]
        assert mail["scenario"] == "cart-now"
        # c2 refused e-mails: nothing for them, even after more runs
        time.sleep(3)
        assert smtp_server.to("c2@example.org") == [] and smtp_server.duplicates == 0
        sent = live.rows("SELECT customer_id, channel FROM events WHERE event = 'email_sent'")
        assert sent == [("c1", "email")]
    finally:
        live.kill()
