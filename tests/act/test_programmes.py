"""Loyalty points and tiers, referral crediting: the engine against plain-Python references."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parcours.act.engine import Engine, referral_code
from parcours.act.referral import credit_referrals
from parcours.act.scenario import parse_scenario, template_text
from parcours.act.settings import Settings
from parcours.data.importer import import_frame
from parcours.data.store import Store

T0 = dt.datetime(2024, 3, 4, 8, 0)
HOUR = dt.timedelta(hours=1)
CONF = Settings.model_validate({"batch_size": 2})


def _store(tmp, customers, events) -> Store:
    store = Store(Path(tmp) / "s.duckdb")
    if customers:
        import_frame(store, pd.DataFrame([{"customer_id": c, "attributes": json.dumps(a)} for c, a in customers.items()]),
                     "customers")
    if events:
        import_frame(store, pd.DataFrame([{**e, "properties": json.dumps(e["properties"]) if e.get("properties") else None}
                                          for e in events]))
    return store


# -- loyalty ------------------------------------------------------------------------------
def loyalty_reference(purchases: list[tuple]):
    """purchases: (customer, time, id, value). 1 point per euro, truncated toward zero."""
    points, tiers = [], []
    balance: dict[str, int] = {}
    for c, t, _, v in sorted(purchases, key=lambda p: (p[0], p[1], p[2])):
        p = int(v)
        if p == 0:
            continue
        before = balance.get(c, 0)
        after = before + p
        balance[c] = after
        points.append((c, t, p, after))
        for threshold, name in ((100, "bronze"), (500, "silver"), (1000, "gold")):
            if before < threshold <= after:
                tiers.append((c, t, name, after))
    return sorted(points), sorted(tiers)


values = st.one_of(st.floats(-300, 1200, allow_nan=False).map(lambda v: round(v, 2)), st.sampled_from([0.0, 99.99, 100.0, 400.0]))


@st.composite
def purchase_cases(draw):
    rows = []
    for c in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=3, unique=True)):
        for k in range(draw(st.integers(1, 6))):
            rows.append((c, T0 + draw(st.integers(0, 5)) * HOUR, f"{c}-{k:02d}", draw(values)))
    cuts = sorted(draw(st.lists(st.integers(0, 6), max_size=2)))
    return rows, [T0 + x * HOUR for x in cuts] + [T0 + 6 * HOUR]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(purchase_cases())
@example(([("a", T0, "a-00", 60.0), ("a", T0, "a-01", 40.0), ("a", T0 + HOUR, "a-02", 1000.0),
           ("a", T0 + 2 * HOUR, "a-03", -950.5), ("a", T0 + 3 * HOUR, "a-04", 960.0)], [T0 + 6 * HOUR]))
def test_loyalty_points_and_tiers(case):
    purchases, nows = case
    scenarios = [parse_scenario(template_text(n)) for n in ("loyalty-points", "loyalty-tier-upgrade")]
    customers = {c: {"email": f"{c}@x.org", "consent_email": True, "first_name": c.upper(), "lang": "en"}
                 for c, *_ in purchases}
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(tmp, customers, [{"event_id": i, "customer_id": c, "timestamp": t, "event": "purchase",
                                         "value": v} for c, t, i, v in purchases])
        try:
            for now in nows:
                Engine(store, scenarios, CONF).run(now, deliver_messages=False)
            points = sorted((c, t, int(json.loads(p)["points"]), int(json.loads(p)["balance"])) for c, t, p in store.fetch(
                "SELECT customer_id, \"timestamp\", properties FROM events WHERE event = 'loyalty_points'"))
            tiers = sorted((c, t, json.loads(p)["tier"], int(json.loads(p)["balance"])) for c, t, p in store.fetch(
                "SELECT customer_id, \"timestamp\", properties FROM events WHERE event = 'loyalty_tier_reached'"))
            mails = store.fetch("SELECT customer_id, \"at\", subject, body FROM act_outbox ORDER BY 1, 2, 3")
        finally:
            store.close()
    want_points, want_tiers = loyalty_reference(purchases)
    assert points == want_points
    assert tiers == want_tiers
    # every tier reached starts the tier e-mail, with the balance and the reward
    assert sorted((c, t) for c, t, *_ in mails) == sorted((c, t) for c, t, *_ in want_tiers)
    for (c, t, subject, body), (_, _, name, balance) in zip(mails, want_tiers):
        assert subject == f"Well done {c.upper()}, {name} tier reached!"
        assert f"With {balance} points you reach the {name} tier" in body


# -- referral -----------------------------------------------------------------------------
PROMOTER = """\
name: invite
entry: {event: {event: promoter}, reentry: once}
holdout: 0
steps:
  - action:
      kind: referral
      message: {subject: {fr: "Code {referral_code}", en: "Code {referral_code}"}, body: {fr: "{referral_code}", en: "{referral_code}"}}
"""


def referral_reference(issued: dict, links: list[tuple], purchases: list[tuple], now):
    """issued: referrer -> time; links: (referee, time, seq, code); purchases: (customer, time)."""
    code_owner = {referral_code(c): c for c, t in issued.items() if t <= now}
    credits = set()
    for referee in {r for r, *_ in links}:
        mine = sorted((t, s, code) for r, t, s, code in links if r == referee and t <= now)
        if not mine:
            continue
        linked_at, _, used = mine[0]
        buys = [t for c, t in purchases if c == referee]
        if not buys or used not in code_owner:
            continue
        first = min(buys)
        if first <= now and linked_at <= first and code_owner[used] != referee:
            credits.add((code_owner[used], referee, first))
    return credits


@st.composite
def referral_cases(draw):
    people = ["a", "b", "c", "d", "e"]
    promoters = draw(st.lists(st.sampled_from(people), max_size=3, unique=True))
    issued = {p: T0 + draw(st.integers(0, 4)) * HOUR for p in promoters}
    codes = [referral_code(p) for p in people[:3]] + ["R-UNKNOWN1"]
    links, seq = [], 0
    for r in people:
        for _ in range(draw(st.integers(0, 2))):
            seq += 1
            links.append((r, T0 + draw(st.integers(0, 8)) * HOUR, seq, draw(st.sampled_from(codes))))
    purchases = [(r, T0 + draw(st.integers(0, 8)) * HOUR) for r in people for _ in range(draw(st.integers(0, 2)))]
    return issued, links, purchases, T0 + draw(st.integers(2, 9)) * HOUR


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referral_cases())
# link and first purchase at the same time (credited); own code, unknown code, link after the
# first purchase (not credited); a second purchase does not credit twice
@example(({"a": T0, "b": T0}, [("c", T0 + HOUR, 1, referral_code("a")), ("b", T0 + HOUR, 2, referral_code("b")),
                               ("d", T0 + HOUR, 3, "R-UNKNOWN1"), ("e", T0 + 3 * HOUR, 4, referral_code("a"))],
          [("c", T0 + HOUR), ("c", T0 + 2 * HOUR), ("b", T0 + 2 * HOUR), ("d", T0 + 2 * HOUR), ("e", T0 + 2 * HOUR)],
          T0 + 5 * HOUR))
def test_referee_first_purchase_credits_the_referrer(case):
    issued, links, purchases, now = case
    events = [{"event_id": f"p-{c}", "customer_id": c, "timestamp": t, "event": "promoter"} for c, t in issued.items()]
    events += [{"event_id": f"l-{s:03d}", "customer_id": r, "timestamp": t, "event": "referral_signup",
                "properties": {"referral_code": code}} for r, t, s, code in links]
    events += [{"event_id": f"b-{i:03d}", "customer_id": c, "timestamp": t, "event": "purchase", "value": 10.0}
               for i, (c, t) in enumerate(purchases)]
    customers = {c: {"email": f"{c}@x.org", "consent_email": True} for c in "abcde"}
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(tmp, customers, events)
        try:
            Engine(store, [parse_scenario(PROMOTER)], CONF).run(now, deliver_messages=False)
            again = credit_referrals(store, now)  # idempotent: nothing more the second time
            got = {(c, json.loads(p)["referee"], t) for c, p, t in store.fetch(
                "SELECT customer_id, properties, \"timestamp\" FROM events WHERE event = 'referral_credited'")}
            codes = {c: json.loads(p)["referral_code"] for c, p in store.fetch(
                "SELECT customer_id, properties FROM events WHERE event = 'referral_code_issued'")}
        finally:
            store.close()
    assert again == 0
    assert codes == {c: referral_code(c) for c, t in issued.items() if t <= now}
    assert got == referral_reference(issued, links, purchases, now)
