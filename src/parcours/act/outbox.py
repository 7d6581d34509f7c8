"""The outbox: messages are written in the same transaction as the step that decides them,
then a sender delivers them and marks each one sent.

Where exactly-once holds, and where it cannot: a step, its outbox row and its event are one
DuckDB transaction, so a decided message is never lost nor decided twice. Delivery is
at-least-once: if the process dies after the SMTP server or webhook accepted a message and
before ``sent`` is committed, the message goes out again on restart, with the same id
(``Message-ID`` / ``Idempotency-Key``). A receiver that drops ids it has seen gets every
message exactly once; ``attempts`` > 1 on a sent row shows where a repeat was possible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..data.importer import failpoint
from ..errors import ActionError
from .channels import SmtpSender, WebhookSender
from .settings import Settings

OUTBOX_COLUMNS = ("message_id", "scenario", "customer_id", "step", "channel", "hook", "recipient",
                  "subject", "body", "payload", "at", "status", "attempts", "sent_at", "error")

OUTBOX_DDL = """CREATE {temp} TABLE IF NOT EXISTS {name} (
    message_id VARCHAR, scenario VARCHAR, customer_id VARCHAR, step VARCHAR, channel VARCHAR,
    hook VARCHAR, recipient VARCHAR, subject VARCHAR, body VARCHAR, payload VARCHAR,
    "at" TIMESTAMP, status VARCHAR, attempts INTEGER, sent_at TIMESTAMP, error VARCHAR)"""


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    waiting: dict[str, int] = field(default_factory=dict)  # channel without configuration -> count

    def to_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "retried": self.retried, "waiting": dict(self.waiting)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def deliver(store, settings: Settings, limit: int | None = None) -> Delivery:
    """Send pending messages, oldest first; mark each one as soon as its channel accepted it."""
    out = Delivery()
    rows = store.fetch(
        "SELECT message_id, scenario, customer_id, step, channel, hook, recipient, subject, body, payload, "
        "attempts FROM act_outbox WHERE status = 'pending' ORDER BY \"at\", message_id"
        + (f" LIMIT {int(limit)}" if limit else ""))
    senders: dict[str, object] = {}
    try:
        for r in rows:
            row = dict(zip(("message_id", "scenario", "customer_id", "step", "channel", "hook", "recipient",
                            "subject", "body", "payload", "attempts"), r))
            sender = _sender(senders, settings, row)
            if sender is None:
                out.waiting[row["hook"]] = out.waiting.get(row["hook"], 0) + 1
                continue
            # count the attempt before sending: a crash after the send leaves the trace of it
            with store.transaction() as con:
                con.execute("UPDATE act_outbox SET attempts = attempts + 1 WHERE message_id = ?", [row["message_id"]])
            try:
                sender.send(row)
            except ActionError as exc:
                failed = row["attempts"] + 1 >= settings.max_attempts
                with store.transaction() as con:
                    con.execute("UPDATE act_outbox SET error = ?, status = ? WHERE message_id = ?",
                                [str(exc), "failed" if failed else "pending", row["message_id"]])
                out.failed += failed
                out.retried += not failed
                continue
            failpoint("act_after_send")
            with store.transaction() as con:
                con.execute("UPDATE act_outbox SET status = 'sent', sent_at = ?, error = NULL WHERE message_id = ?",
                            [_now(), row["message_id"]])
            out.sent += 1
    finally:
        for s in senders.values():
            if s is not None:
                s.close()
    return out


def _sender(senders: dict, settings: Settings, row: dict):
    hook = row["hook"]
    if hook not in senders:
        if hook == "smtp":
            senders[hook] = SmtpSender(settings.smtp) if settings.smtp else None
        else:
            cfg = settings.channels.get(hook)
            senders[hook] = WebhookSender(hook, cfg) if cfg else None
    return senders[hook]


__all__ = ["deliver", "Delivery", "OUTBOX_DDL", "OUTBOX_COLUMNS"]
