"""Fixtures for orchestration: real workspaces, a real SMTP server and a real webhook receiver
on 127.0.0.1, each recording what it received and dropping repeats by message id."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from parcours.act.channels import verify
from parcours.workspace import Workspace

T0 = dt.datetime(2024, 3, 4, 10, 0)  # a Monday, 11:00 in Paris
H = dt.timedelta(hours=1)
SECRET = "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What a receiver got: every delivery (``raw``) and the first of each id (``messages``)."""

    def __init__(self):
        self.raw: list[dict] = []
        self.messages: dict[str, dict] = {}
        self.lock = threading.Lock()

    def add(self, key: str, item: dict) -> bool:
        with self.lock:
            self.raw.append(item)
            if key in self.messages:
                return False
            self.messages[key] = item
            return True

    @property
    def duplicates(self) -> int:
        return len(self.raw) - len(self.messages)

    def to(self, recipient: str) -> list[dict]:
        return [m for m in self.messages.values() if m["to"] == recipient]


class _SmtpHandler:
    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.inbox.add(msg["Message-ID"], {"to": msg["To"], "subject": str(msg["Subject"]),
                                           "body": msg.get_content(), "message_id": msg["Message-ID"],
                                           "scenario": msg["X-Parcours-Scenario"]})
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    ctl = Controller(_SmtpHandler(inbox), hostname="127.0.0.1", port=port)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


@pytest.fixture
def webhook_server():
    """Checks the HMAC signature (401 when wrong) and drops repeated Idempotency-Keys."""
    inbox = Inbox()
    inbox.rejected = 0

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify(SECRET.encode(), self.headers["X-Parcours-Timestamp"], body,
                        self.headers["X-Parcours-Signature"])
            if not ok:
                inbox.rejected += 1
                self.send_response(401)
                self.end_headers()
                return
            data = json.loads(body)
            inbox.add(self.headers["Idempotency-Key"], {**data, "to": data["recipient"]})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inbox.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield inbox
    server.shutdown()
    server.server_close()


def act_yaml(path: Path, smtp_port: int | None = None, hook_url: str | None = None, batch_size: int = 7,
             **guards) -> None:
    lines = []
    if smtp_port:
        lines += ["smtp:", "  host: 127.0.0.1", f"  port: {smtp_port}", "  sender: Boutique <shop@example.org>"]
    if hook_url:
        lines += ["channels:"] + [f"  {c}:\n    url: {hook_url}\n    secret_env: PARCOURS_TEST_SECRET"
                                  for c in ("sms", "task", "push")]
    if guards:
        lines += ["guards:"]
        for k, v in guards.items():
            if isinstance(v, dict):
                lines += [f"  {k}:"] + [f"    {a}: {b}" for a, b in v.items()]
            else:
                lines += [f"  {k}: {json.dumps(v)}"]
    lines += [f"batch_size: {batch_size}"]
    (path / "act.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def customer(i: int, **attrs) -> dict:
    base = {"email": f"c{i}@example.org", "phone": f"+3360000{i:04d}", "first_name": f"Prénom{i}",
            "consent_email": True, "consent_sms": True, "lang": "en" if i % 2 else "fr", "timezone": "Europe/Paris"}
    base.update(attrs)
    return {"customer_id": f"c{i}", "attributes": json.dumps(base)}


@pytest.fixture
def make_ws(tmp_path, monkeypatch):
    """A function: (customers, events, scenario texts or template names) -> an open workspace."""
    monkeypatch.setenv("PARCOURS_TEST_SECRET", SECRET)
    opened = []

    def make(customers: list[dict], events: list[dict], scenarios: dict[str, str] | list[str] = (),
             name: str = "ws") -> Workspace:
        from parcours.act.scenario import add_template

        ws = Workspace.init(tmp_path / name)
        opened.append(ws)
        if customers:
            ws.import_customers(pd.DataFrame(customers))
        if events:
            rows = [{**e, "properties": json.dumps(e["properties"]) if e.get("properties") else None}
                    for e in events]
            ws.import_events(pd.DataFrame(rows))
        folder = ws.path / "scenarios"
        folder.mkdir(exist_ok=True)
        if isinstance(scenarios, dict):
            for n, text in scenarios.items():
                (folder / f"{n}.yaml").write_text(text, encoding="utf-8")
        else:
            for n in scenarios:
                add_template(ws.path, n)
        return ws

    yield make
    for ws in opened:
        ws.close()
