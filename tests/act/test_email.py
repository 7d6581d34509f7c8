"""Abandoned cart end to end: real SMTP server, simulated clock through ``parcours run --until``."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from parcours.act.ids import unit_hash
from parcours.cli import app
from parcours.workspace import Workspace

from .conftest import T0, H, act_yaml, customer

M = dt.timedelta(minutes=1)
runner = CliRunner()


def run(path, until) -> dict:
    res = runner.invoke(app, ["run", str(path), "--until", until.isoformat(), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_abandoned_cart_reminders_goal_and_languages(make_ws, smtp_server):
    n = 12
    events = [{"customer_id": f"c{i}", "timestamp": T0 + i * M, "event": "add_to_cart",
               "properties": {"product": "baskets" if i % 2 == 0 else "sneakers"}} for i in range(n)]
    events += [{"customer_id": "c2", "timestamp": T0 + 30 * M, "event": "purchase", "value": 80.0},
               {"customer_id": "c3", "timestamp": T0 + 5 * H, "event": "purchase", "value": 95.0}]
    ws = make_ws([customer(i) for i in range(n)], events, ["abandoned-cart"])
    act_yaml(ws.path, smtp_port=smtp_server.port)
    path = ws.path
    ws.close()
    treated = [i for i in range(n) if unit_hash("holdout", "abandoned-cart", f"c{i}") >= 0.1]
    held = [i for i in range(n) if i not in treated]
    assert treated and held  # the hash gives both groups with these ids

    report = run(path, T0 + 90 * M)
    first = {i for i in treated if i != 2}
    assert {m["to"] for m in smtp_server.messages.values()} == {f"c{i}@example.org" for i in first}
    assert report["delivery"]["sent"] == len(first)

    # personalised, in the customer's language (even ids French, odd ids English)
    for i in first:
        (m,) = smtp_server.to(f"c{i}@example.org")
        product = "baskets" if i % 2 == 0 else "sneakers"
        if i % 2 == 0:
            assert m["subject"] == f"Prénom{i}, votre panier vous attend"
            assert f"Vous avez laissé {product} dans votre panier" in m["body"]
        else:
            assert m["subject"] == f"Prénom{i}, your cart is waiting"
            assert f"You left {product} in your cart" in m["body"]
        assert m["scenario"] == "abandoned-cart" and m["message_id"].endswith("@parcours>")

    run(path, T0 + 23 * H)  # nothing due between the reminders
    assert len(smtp_server.messages) == len(first)

    run(path, T0 + 25 * H)
    second = {i for i in treated if i not in (2, 3)}
    assert len(smtp_server.messages) == len(first) + len(second)
    for i in second:
        subjects = sorted(m["subject"] for m in smtp_server.to(f"c{i}@example.org"))
        assert len(subjects) == 2 and any(s.startswith(("Dernier rappel", "Last reminder")) for s in subjects)
    assert len(smtp_server.to("c3@example.org")) == (1 if 3 in treated else 0)

    again = run(path, T0 + 25 * H)  # a second run at the same time does nothing
    assert again["delivery"]["sent"] == 0 and smtp_server.duplicates == 0

    with Workspace.open(path) as ws:
        rows = ws.store.fetch("""SELECT customer_id, "timestamp", channel, touchpoint FROM journey_view
                                 WHERE event = 'email_sent' ORDER BY customer_id, "timestamp" """)
        expected = sorted([(f"c{i}", T0 + i * M + H, "email", "abandoned-cart:reminder-1h") for i in first]
                          + [(f"c{i}", T0 + i * M + 24 * H, "email", "abandoned-cart:reminder-24h") for i in second])
        assert rows == expected
        status = dict(ws.store.fetch("SELECT customer_id, status FROM act_state"))
        assert status["c2"] == "goal" and status["c3"] == "goal"
        assert {status[f"c{i}"] for i in range(n) if i not in (2, 3)} == {"done"}
        sent = ws.store.fetch("SELECT count(*), max(attempts) FROM act_outbox WHERE status = 'sent'")[0]
        assert sent == (len(first) + len(second), 1)
