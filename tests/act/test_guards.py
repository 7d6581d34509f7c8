"""Guards and the webhook channel: consent per channel, global control group, frequency cap,
quiet hours in the customer's time zone, signed webhooks checked by a real receiver."""

from __future__ import annotations

import datetime as dt

from parcours.act.engine import run_due
from parcours.act.ids import unit_hash

from .conftest import T0, H, act_yaml, customer

PROMO = """\
name: promo
entry: {event: {event: signup}}
holdout: 0
steps:
  - id: mail-1
    action:
      kind: email
      message: {subject: {fr: "Bienvenue {first_name}", en: "Welcome {first_name}"}, body: {fr: "Un", en: "One"}}
  - id: sms
    action: {kind: sms, message: {body: {fr: "SMS pour {first_name}", en: "SMS for {first_name}"}}}
  - wait: 1h
  - id: mail-2
    action:
      kind: email
      message: {subject: {fr: "Encore {first_name}", en: "Again {first_name}"}, body: {fr: "Deux", en: "Two"}}
"""


def sent(ws) -> list[tuple]:
    return ws.store.fetch("""SELECT customer_id, step, channel, "at" FROM act_outbox ORDER BY customer_id, "at", step""")


def test_consent_control_group_and_frequency_cap(make_ws, smtp_server, webhook_server):
    ids = range(12)
    attrs = {0: {"consent_email": False}, 1: {"consent_sms": "no"}, 2: {"email": None}}
    ws = make_ws([customer(i, **attrs.get(i, {})) for i in ids],
                 [{"customer_id": f"c{i}", "timestamp": T0, "event": "signup"} for i in ids], {"promo": PROMO})
    act_yaml(ws.path, smtp_port=smtp_server.port, hook_url=webhook_server.url,
             control_group=0.25, frequency_cap={"max": 2, "per": "7d"})
    report = run_due(ws, T0 + 2 * H)
    control = {i for i in ids if unit_hash("control", f"c{i}") < 0.25}
    assert control and len(control) < len(ids)

    expected = []
    for i in ids:
        if i in control:
            continue
        n = 0
        if i not in (0, 2):  # no consent, no address
            expected.append((f"c{i}", "mail-1", "email", T0))
            n += 1
        if i != 1:
            expected.append((f"c{i}", "sms", "sms", T0))
            n += 1
        if i not in (0, 2) and n < 2:  # the cap: 2 messages in 7 days
            expected.append((f"c{i}", "mail-2", "email", T0 + H))
    assert sorted(sent(ws)) == sorted(expected)
    reasons = dict(ws.store.fetch("SELECT reason, count(*) FROM act_log WHERE outcome = 'suppressed' GROUP BY 1"))
    assert reasons.get("control", 0) == 3 * len(control)
    capped = [i for i in ids if i not in control and i not in (0, 1, 2)]
    assert reasons.get("frequency_cap", 0) == len(capped)

    # the receivers got exactly what the outbox says, each once, signature checked
    emails = {m["to"] for m in smtp_server.messages.values()}
    assert emails == {f"c{i}@example.org" for i in ids if i not in control and i not in (0, 2)}
    sms = {m["customer_id"]: m for m in webhook_server.messages.values()}
    assert set(sms) == {f"c{i}" for i in ids if i not in control and i != 1}
    assert webhook_server.rejected == 0 and webhook_server.duplicates == 0
    some = sorted(sms)[0]
    i = int(some[1:])
    assert sms[some]["recipient"] == f"+3360000{i:04d}"
    assert sms[some]["body"] == (f"SMS for Prénom{i}" if i % 2 else f"SMS pour Prénom{i}")
    assert report.delivery.sent == len(expected)


def test_quiet_hours_wait_for_the_local_morning(make_ws, smtp_server):
    evening = dt.datetime(2024, 3, 4, 20, 30)  # 21:30 in Paris, 15:30 in New York
    night_ny = dt.datetime(2024, 3, 5, 3, 0)  # 04:00 in Paris, 22:00 in New York
    ws = make_ws([customer(0), customer(1, timezone="America/New_York"), customer(2, timezone="Not/AZone")],
                 [{"customer_id": "c0", "timestamp": evening, "event": "signup"},
                  {"customer_id": "c1", "timestamp": evening, "event": "signup"},
                  {"customer_id": "c1", "timestamp": night_ny, "event": "signup"},
                  {"customer_id": "c2", "timestamp": evening, "event": "signup"}],
                 {"promo": PROMO.replace("entry: {event: {event: signup}}",
                                         "entry: {event: {event: signup}, reentry: always}")})
    act_yaml(ws.path, smtp_port=smtp_server.port, quiet_hours="21:00-08:00")
    run_due(ws, dt.datetime(2024, 3, 6))
    mails = [(c, at) for c, step, ch, at in sent(ws) if step == "mail-1"]
    paris_8 = dt.datetime(2024, 3, 5, 7, 0)  # 08:00 CET
    assert sorted(mails) == sorted([
        ("c0", paris_8),                     # Paris evening: next Paris morning
        ("c1", evening),                     # 15:30 in New York: no wait
        ("c1", dt.datetime(2024, 3, 5, 13, 0)),  # 22:00 in New York: 08:00 EST is 13:00 UTC
        ("c2", paris_8),                     # unknown zone: the default zone (Europe/Paris)
    ])
    # the second e-mail comes 1 h after the SMS, itself postponed with the first e-mail
    assert ("c0", "mail-2", "email", paris_8 + H) in sent(ws)


def test_wrong_signature_is_refused_and_retried_then_failed(make_ws, webhook_server, monkeypatch):
    ws = make_ws([customer(1)], [{"customer_id": "c1", "timestamp": T0, "event": "signup"}],
                 {"promo": PROMO.replace("      kind: email", "      kind: webhook\n      channel: push")
                  .replace("message: {subject: {fr: \"Bienvenue {first_name}\", en: \"Welcome {first_name}\"}, ",
                           "message: {")
                  .replace("message: {subject: {fr: \"Encore {first_name}\", en: \"Again {first_name}\"}, ",
                           "message: {")})
    act_yaml(ws.path, hook_url=webhook_server.url)
    (ws.path / "act.yaml").write_text((ws.path / "act.yaml").read_text() + "max_attempts: 2\n")
    monkeypatch.setenv("PARCOURS_TEST_SECRET", "not-the-secret")
    ws.import_customers([customer(1, consent_push=True)])
    r1 = run_due(ws, T0 + 2 * H)
    assert webhook_server.rejected >= 1 and not webhook_server.messages
    assert r1.delivery.retried + r1.delivery.failed >= 1
    run_due(ws, T0 + 2 * H)
    rows = ws.store.fetch("SELECT status, attempts, error FROM act_outbox WHERE channel = 'webhook'")
    assert rows and all(s == "failed" and a == 2 and "HTTP 401" in e for s, a, e in rows)
