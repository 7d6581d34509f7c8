"""Delivery channels: e-mail over SMTP, everything else as a signed HTTP POST (webhook).

Each message carries its id so a receiver can drop a repeat: the ``Message-ID`` header of an
e-mail and the ``Idempotency-Key`` header of a webhook. A webhook body is signed with
HMAC-SHA256 over ``"<timestamp>.<body>"`` (``X-Parcours-Timestamp``,
``X-Parcours-Signature: sha256=<hex>``), so the receiver can check who sent it and when.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate

from ..errors import ActionError
from .settings import Hook, Smtp

MESSAGE_ID_DOMAIN = "parcours"


def message_id_header(message_id: str) -> str:
    return f"<{message_id}@{MESSAGE_ID_DOMAIN}>"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs: constant-time comparison of the signature it got."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


class SmtpSender:
    """One SMTP connection reused for a delivery round, opened on the first message."""

    def __init__(self, cfg: Smtp):
        self.cfg = cfg
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                smtp = smtplib.SMTP(self.cfg.host, self.cfg.port, timeout=self.cfg.timeout)
                if self.cfg.starttls:
                    smtp.starttls()
                if self.cfg.username:
                    smtp.login(self.cfg.username, self.cfg.password or "")
            except (OSError, smtplib.SMTPException) as exc:
                raise ActionError(f"SMTP {self.cfg.host}:{self.cfg.port}: {exc}") from exc
            self._smtp = smtp
        return self._smtp

    def send(self, row: dict) -> None:
        msg = EmailMessage()
        msg["From"] = self.cfg.sender
        msg["To"] = row["recipient"]
        msg["Subject"] = row["subject"] or ""
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id_header(row["message_id"])
        msg["X-Parcours-Scenario"] = row["scenario"]
        msg.set_content(row["body"])
        try:
            self._connect().send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise ActionError(f"SMTP {self.cfg.host}:{self.cfg.port}: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


class WebhookSender:
    """POST the message as JSON to the channel's URL, signed."""

    def __init__(self, name: str, cfg: Hook):
        import httpx

        self.name, self.cfg = name, cfg
        self.client = httpx.Client(timeout=cfg.timeout)

    def send(self, row: dict) -> None:
        import httpx

        body = json.dumps({
            "message_id": row["message_id"], "channel": self.name, "scenario": row["scenario"],
            "customer_id": row["customer_id"], "recipient": row["recipient"],
            "subject": row["subject"], "body": row["body"],
            "data": json.loads(row["payload"]) if row.get("payload") else {},
        }, ensure_ascii=False).encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": row["message_id"],
                   "X-Parcours-Timestamp": ts, "X-Parcours-Signature": sign(self.cfg.secret, ts, body)}
        try:
            r = self.client.post(self.cfg.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ActionError(f"webhook {self.name} {self.cfg.url}: {exc}") from exc
        if r.status_code >= 300:
            raise ActionError(f"webhook {self.name} {self.cfg.url}: HTTP {r.status_code}")

    def close(self) -> None:
        self.client.close()


__all__ = ["SmtpSender", "WebhookSender", "sign", "verify", "message_id_header"]
