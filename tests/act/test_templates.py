"""The built-in scenarios and the other step and entry kinds, end to end on real receivers,
and the simulation, which replays history without writing or sending anything."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
from typer.testing import CliRunner

from parcours.act.engine import referral_code, request_entry, run_due
from parcours.act.ids import unit_hash
from parcours.act.simulate import simulate
from parcours.cli import app

from .conftest import T0, H, act_yaml, customer

DAY = dt.timedelta(days=1)


def held(scenario: str, cid: str, share: float) -> bool:
    return unit_hash("holdout", scenario, cid) < share


def test_builtin_templates(make_ws, smtp_server, webhook_server):
    events = [
        {"customer_id": "c0", "timestamp": T0, "event": "purchase", "value": 30.0},
        {"customer_id": "c0", "timestamp": T0 + DAY, "event": "purchase", "value": 20.0},
        {"customer_id": "c1", "timestamp": T0, "event": "order_delivered"},
        {"customer_id": "c4", "timestamp": T0, "event": "page_view"},
    ]
    ws = make_ws([customer(i) for i in range(6)], events,
                 ["thank-you", "survey-after-delivery", "detractor-follow-up", "referral-invitation", "win-back"])
    ws.import_feedback(pd.DataFrame([
        {"customer_id": "c2", "timestamp": T0, "kind": "nps", "score": 3, "text": "livraison en retard"},
        {"customer_id": "c3", "timestamp": T0, "kind": "nps", "score": 10, "text": "parfait"},
    ]))
    act_yaml(ws.path, smtp_port=smtp_server.port, hook_url=webhook_server.url)
    run_due(ws, T0 + 61 * DAY)
    out = {(c, sc): (at, subject, body) for c, sc, at, subject, body in ws.store.fetch(
        "SELECT customer_id, scenario, \"at\", subject, body FROM act_outbox")}

    # thank-you: once, 2 h after the first purchase only
    if not held("thank-you", "c0", 0.1):
        at, subject, _ = out[("c0", "thank-you")]
        assert at == T0 + 2 * H and subject == "Merci pour votre commande, Prénom0 !"
    assert sum(1 for c, sc in out if sc == "thank-you") == (0 if held("thank-you", "c0", 0.1) else 1)
    # survey two days after delivery, 11:00 in Paris is inside 10:00-19:00; English customer
    if not held("survey-after-delivery", "c1", 0.05):
        at, subject, body = out[("c1", "survey-after-delivery")]
        assert at == T0 + 2 * DAY and subject == "Your opinion matters, Prénom1"
        assert "/survey/" in body and "kind=nps" in body
    # the detractor becomes a task for a person, through the signed webhook
    tasks = [m for m in webhook_server.messages.values() if m["channel"] == "task"]
    assert len(tasks) == 1 and tasks[0]["customer_id"] == "c2"
    assert tasks[0]["body"] == "Rappeler Prénom2 (c2) : note NPS 3. « livraison en retard »"
    assert tasks[0]["subject"] == "[service-client] detractor-follow-up"
    # the promoter gets a referral code
    if not held("referral-invitation", "c3", 0.1):
        _, subject, body = out[("c3", "referral-invitation")]
        assert subject == "Prénom3, refer your friends" and referral_code("c3") in body
    # win-back: 60 days after the last activity (not after our own messages), with a coupon
    winback = {c: v for (c, sc), v in out.items() if sc == "win-back"}
    inactive = {c for c in ("c0", "c1", "c4") if not held("win-back", c, 0.1)}
    assert set(winback) == inactive
    if "c4" in inactive:
        at, subject, body = winback["c4"]
        assert at == T0 + 60 * DAY and subject == "Prénom4, vous nous manquez : -15%"
        coupon = ws.store.scalar("SELECT json_extract_string(properties, '$.coupon') FROM events "
                                 "WHERE event = 'offer_sent' AND customer_id = 'c4'")
        assert re.fullmatch(r"WINB-[A-Z2-7]{8}", coupon) and coupon in body
    # everything sent reached the SMTP server, and shows in the journeys with its channel
    assert len(smtp_server.messages) == sum(1 for (c, sc) in out if sc != "detractor-follow-up")
    seen = ws.store.fetch("SELECT event, channel, count(*) FROM journey_view WHERE starts_with(event_id, 'act:') "
                          "GROUP BY 1, 2 ORDER BY 1")
    assert ("task_created", "task", 1) in seen
    assert all(ch in ("email", "task") for _, ch, _ in seen)


FEATURES = """\
name: features
entry: {api: true}
holdout: 0
steps:
  - id: vip-check
    split: {if: {attributes: {tier: gold}}, then: vip, else: ab}
  - id: ab
    random: [{name: A, weight: 1, goto: mail-a}, {name: B, weight: 3, goto: mail-b}]
  - id: mail-a
    action: {kind: email, message: {subject: {fr: A, en: A}, body: {fr: "a", en: "a"}}}
    goto: wait-buy
  - id: mail-b
    action: {kind: email, message: {subject: {fr: B, en: B}, body: {fr: "b", en: "b"}}}
    goto: wait-buy
  - id: vip
    action: {kind: tag, tags: {vip_contacted: true}}
  - id: wait-buy
    wait: {until: {event: purchase}, timeout: 1d}
  - id: bought
    split: {if: {event: {event: purchase}}, then: thanks}
  - end: true
  - id: thanks
    action: {kind: email, message: {subject: {fr: Merci, en: Thanks}, body: {fr: "m", en: "t"}}}
"""


def test_splits_waits_tags_and_api_entries(make_ws, smtp_server):
    ws = make_ws([customer(0, tier="gold")] + [customer(i) for i in range(1, 12)],
                 [{"customer_id": f"c{i}", "timestamp": T0 + 5 * H, "event": "purchase", "value": 10.0}
                  for i in (0, 2, 3)] + [{"customer_id": "c4", "timestamp": T0 + 30 * H, "event": "purchase", "value": 10.0}],
                 {"features": FEATURES})
    act_yaml(ws.path, smtp_port=smtp_server.port)
    for i in range(12):
        request_entry(ws.store, "features", f"c{i}", T0 + H, key=f"r{i}")
    request_entry(ws.store, "features", "c1", T0 + H, key="r1")  # the same request twice: one entry
    run_due(ws, T0 + 3 * DAY)
    mails = sorted(ws.store.fetch("SELECT customer_id, subject, \"at\" FROM act_outbox"))
    expected = [("c0", "Merci", T0 + 5 * H)]  # tagged, then waits for a purchase like the others
    for i in range(1, 12):
        variant = "A" if unit_hash("variant", "features", "ab", f"c{i}") * 4 < 1 else "B"
        expected.append((f"c{i}", variant, T0 + H))
        if i in (2, 3):  # bought within the day: thanked at the purchase
            expected.append((f"c{i}", "Thanks" if i % 2 else "Merci", T0 + 5 * H))
    assert mails == sorted(expected)
    assert {"A", "B"} <= {s for _, s, _ in mails}
    variants = dict(ws.store.fetch("SELECT customer_id, variant FROM act_state"))
    assert all(variants[c] == s for c, s, at in expected if at == T0 + H)
    attrs = json.loads(ws.store.scalar("SELECT attributes FROM customers WHERE customer_id = 'c0'"))
    assert attrs["vip_contacted"] is True and attrs["tier"] == "gold"
    assert ws.store.scalar("SELECT count(*) FROM act_state") == 12


def test_simulation_replays_history_and_writes_nothing(make_ws):
    n = 40
    events = [{"customer_id": f"c{i}", "timestamp": T0 + i * H, "event": "add_to_cart"} for i in range(n)]
    events += [{"customer_id": f"c{i}", "timestamp": T0 + i * H + 30 * dt.timedelta(minutes=1), "event": "purchase",
                "value": 10.0} for i in range(0, n, 4)]
    ws = make_ws([customer(i, consent_email=i % 5 != 0) for i in range(n)], events, ["abandoned-cart"])
    before = ws.store.fetch("SELECT count(*) FROM events")[0]
    res = simulate(ws, "abandoned-cart", since=T0 + 10 * H)
    entered = [i for i in range(10, n)]
    treated = [i for i in entered if not held("abandoned-cart", f"c{i}", 0.1)]
    last = T0 + (n - 1) * H  # the replay ends at the last event: the last cart
    contacted = [i for i in treated if i % 4 != 0 and i % 5 != 0 and T0 + i * H + H <= last]
    assert (res.entered, res.holdout) == (len(entered), len(entered) - len(treated))
    assert res.contacted == len(contacted)
    twice = [i for i in contacted if T0 + i * H + 24 * H <= last]
    assert res.messages == {"email": len(contacted) + len(twice)}
    assert res.status["goal"] == len([i for i in entered if i % 4 == 0])
    assert ws.store.fetch("SELECT count(*) FROM events")[0] == before
    assert not ws.store.has_table("act_state") or ws.store.scalar("SELECT count(*) FROM act_state") == 0
    path = ws.path
    ws.close()
    out = CliRunner().invoke(app, ["simulate", str(path), "--scenario", "abandoned-cart", "--since",
                                   (T0 + 10 * H).isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["contacted"] == len(contacted)


def test_a_goto_loop_without_wait_ends_in_error_and_a_shortened_scenario_ends(make_ws):
    loop = ("name: loop\nentry: {api: true}\nholdout: 0\nsteps:\n  - id: a\n    split: {if: {attributes: {x: 1}}}\n"
            "    goto: a\n")
    ws = make_ws([customer(0)], [], {"loop": loop, "cart": open_text("abandoned-cart")})
    request_entry(ws.store, "loop", "c0", T0, key="k")
    ws.import_events(pd.DataFrame([{"customer_id": "c0", "timestamp": T0, "event": "add_to_cart"}]))
    run_due(ws, T0 + 2 * H)
    assert dict(ws.store.fetch("SELECT scenario, status FROM act_state")) == {"loop": "error", "abandoned-cart": "active"}
    # the cart scenario loses its last two steps while c0 waits in step 3 (wait-24h)
    short = open_text("abandoned-cart").split("  - id: wait-24h")[0]
    (ws.path / "scenarios" / "cart.yaml").write_text(short)
    run_due(ws, T0 + 30 * H)
    assert ws.store.scalar("SELECT status FROM act_state WHERE scenario = 'abandoned-cart'") == "done"


def open_text(name: str) -> str:
    from parcours.act.scenario import template_text

    return template_text(name)


def test_exit_criteria_end_the_scenario(make_ws):
    cid = next(f"c{i}" for i in range(20) if not held("abandoned-cart", f"c{i}", 0.1))
    i = int(cid[1:])
    ws = make_ws([customer(i)], [{"customer_id": cid, "timestamp": T0, "event": "add_to_cart"},
                                 {"customer_id": cid, "timestamp": T0 + 2 * H, "event": "unsubscribe"}],
                 ["abandoned-cart"])
    run_due(ws, T0 + 3 * DAY, deliver_messages=False)
    assert ws.store.fetch("SELECT status, ended_at FROM act_state") == [("exited", T0 + 2 * H)]
    assert ws.store.fetch("SELECT step FROM act_outbox") == [("reminder-1h",)]
