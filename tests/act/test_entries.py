"""Entry kinds read from the journey layer and the workspace: stage visits, a date, a segment."""

from __future__ import annotations

import datetime as dt

from parcours.act.engine import run_due

from .conftest import T0, H, act_yaml, customer

MAIL = "  - action: {kind: email, message: {subject: {fr: s, en: s}, body: {fr: b, en: b}}}\n"


def scenario(name: str, entry: str, extra: str = "") -> str:
    return f"name: {name}\nentry: {entry}\nholdout: 0\n{extra}steps:\n{MAIL}"


def test_stage_date_and_segment_entries(make_ws, smtp_server):
    events = [
        {"customer_id": "c0", "timestamp": T0, "event": "product_view"},
        {"customer_id": "c0", "timestamp": T0 + H, "event": "add_to_cart"},       # enters purchase
        {"customer_id": "c0", "timestamp": T0 + 2 * H, "event": "purchase", "value": 10.0},
        {"customer_id": "c0", "timestamp": T0 + 5 * H, "event": "order_delivered"},  # leaves purchase
        {"customer_id": "c1", "timestamp": T0 + 3 * H, "event": "product_view"},
        {"customer_id": "c2", "timestamp": T0 + 4 * H, "event": "add_to_cart"},
    ]
    ws = make_ws([customer(0, tier="gold"), customer(1, tier="gold"), customer(2)], events, {
        "enter": scenario("enter-purchase", "{stage: {enter: purchase}}"),
        "leave": scenario("leave-purchase", "{stage: {leave: purchase}}"),
        "date": scenario("sales", "{date: 2024-03-05T09:00, where: {tier: gold}}"),
        "segment": scenario("vip", "{segment: {enter: golden}}"),
    })
    ws.save_segment("golden", "tier = gold")
    act_yaml(ws.path, smtp_port=smtp_server.port)
    run_due(ws, T0 + 10 * H)
    got = sorted(ws.store.fetch("SELECT scenario, customer_id, \"at\" FROM act_outbox"))
    assert got == sorted([
        ("enter-purchase", "c0", T0 + H), ("enter-purchase", "c2", T0 + 4 * H),
        ("leave-purchase", "c0", T0 + 5 * H),
        ("vip", "c0", T0 + 10 * H), ("vip", "c1", T0 + 10 * H),
    ])
    run_due(ws, T0 + 30 * H)  # the date has come; segment members do not enter twice
    got = sorted(ws.store.fetch("SELECT scenario, customer_id, \"at\" FROM act_outbox WHERE scenario IN ('sales', 'vip')"))
    sale = dt.datetime(2024, 3, 5, 9, 0)
    assert got == [("sales", "c0", sale), ("sales", "c1", sale), ("vip", "c0", T0 + 10 * H), ("vip", "c1", T0 + 10 * H)]
    assert len(smtp_server.messages) == 7
