"""The engine against a slow, obviously-correct reference on many small random histories.

One scenario shape (entry cart, goal buy, wait, e-mail, wait, e-mail) with random delays,
re-entry policy, consent, holdout and frequency cap; the engine runs in one go or in several
runs with a clock cut anywhere (catching up must give the same answer). Ties in time,
repeated carts, a purchase at the very time of a step, one-event and empty histories all
occur.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parcours.act.engine import Engine
from parcours.act.ids import unit_hash
from parcours.act.scenario import parse_scenario
from parcours.act.settings import Settings
from parcours.data.importer import import_frame
from parcours.data.store import Store

T0 = dt.datetime(2024, 3, 4, 8, 0)
STEP = dt.timedelta(minutes=30)
DELAYS = {"30m": STEP, "1h": 2 * STEP, "2h": 4 * STEP}

TEXT = """\
name: ref
entry: {{event: {{event: cart}}, reentry: {policy}}}
goal: {{event: {{event: buy}}, within: 1d}}
holdout: 0.3
steps:
  - wait: {d1}
  - id: m1
    action: {{kind: email, message: {{subject: {{fr: a, en: a}}, body: {{fr: b, en: b}}}}}}
  - wait: {d2}
  - id: m2
    action: {{kind: email, message: {{subject: {{fr: a, en: a}}, body: {{fr: b, en: b}}}}}}
"""


def reference(people: dict, events: list[tuple], policy, d1, d2, cap, now):
    """Per customer: runs from carts (policy), goal = first buy after the start; messages in
    time order through consent, holdout and the cap. Returns (attempted, sent) multisets."""
    attempted, sent = Counter(), Counter()
    for cid, consent in people.items():
        mine = sorted((t, k, name) for c, t, k, name in events if c == cid and t <= now)
        buys = [t for t, _, name in mine if name == "buy"]
        runs = []  # [start, end or None]
        planned = []  # (time, run index, step)
        for t, _, name in mine:
            if name != "cart":
                continue
            if policy == "once" and runs:
                continue
            if policy == "after_exit" and any(s <= t and (e is None or t < e) for s, e in runs):
                continue
            goal = next((b for b in buys if b > t), None)
            t1, t2 = t + d1, t + d1 + d2
            if goal is not None and goal <= t2:
                end = goal
            else:
                end = t2 if t2 <= now else None
            runs.append((t, end))
            for step, when in (("m1", t1), ("m2", t2)):
                if when <= now and (goal is None or goal > when):
                    planned.append((when, len(runs) - 1, step))
        held = unit_hash("holdout", "ref", cid) < 0.3
        times = []
        for when, _, step in sorted(planned):
            attempted[(cid, step, when)] += 1
            if held or not consent:
                continue
            if cap and sum(1 for x in times if when - cap[1] < x <= when) >= cap[0]:
                continue
            times.append(when)
            sent[(cid, when)] += 1
    return attempted, sent


people_st = st.dictionaries(st.sampled_from([f"p{i}" for i in range(6)]), st.booleans(), min_size=1, max_size=3)


@st.composite
def cases(draw):
    people = draw(people_st)
    events = []
    for cid in people:
        for k in range(draw(st.integers(0, 6))):
            events.append((cid, T0 + draw(st.integers(0, 8)) * STEP, k, draw(st.sampled_from(["cart", "cart", "buy"]))))
    policy = draw(st.sampled_from(["once", "after_exit", "always"]))
    d1, d2 = draw(st.sampled_from(list(DELAYS))), draw(st.sampled_from(list(DELAYS)))
    cap = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.sampled_from(["1h", "3h", "1d"]))))
    final = T0 + draw(st.integers(4, 16)) * STEP
    cuts = sorted(draw(st.lists(st.integers(0, 16), max_size=3)))
    return people, events, policy, d1, d2, cap, [T0 + c * STEP for c in cuts if T0 + c * STEP < final] + [final]


def _case(events, policy="after_exit", d1="30m", d2="30m", cap=None, end=12):
    return ({"p0": True, "p1": False}, [("p0", T0 + s * STEP, k, name) for k, (s, name) in enumerate(events)],
            policy, d1, d2, cap, [T0 + end * STEP])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
# a new cart at the very time the previous run ended (done, or its goal): it enters
@example(_case([(0, "cart"), (2, "cart")]))
@example(_case([(0, "cart"), (1, "buy"), (1, "cart")], d1="1h", d2="1h"))
# a purchase at the time of the cart is not its goal; one at the time of a step is
@example(_case([(0, "cart"), (0, "buy")]))
@example(_case([(0, "cart"), (1, "buy")], policy="once"))
# the cap counts messages of every run; a clock cut between the steps
@example(({"p0": True}, [("p0", T0, 0, "cart"), ("p0", T0 + STEP, 1, "cart")], "always", "30m", "30m",
          (1, "1h"), [T0 + STEP, T0 + 3 * STEP, T0 + 9 * STEP]))
def test_engine_equals_reference(case):
    people, events, policy, d1, d2, cap, nows = case
    sc = parse_scenario(TEXT.format(policy=policy, d1=d1, d2=d2))
    guards = {"frequency_cap": {"max": cap[0], "per": cap[1]}} if cap else {}
    conf = Settings.model_validate({"guards": guards, "batch_size": 2})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.duckdb")
        try:
            if people:
                import_frame(store, pd.DataFrame([{"customer_id": c, "attributes": json.dumps(
                    {"email": f"{c}@x.org", "consent_email": ok})} for c, ok in people.items()]), "customers")
            if events:
                import_frame(store, pd.DataFrame([{"event_id": f"{c}-{k}", "customer_id": c, "timestamp": t,
                                                   "event": name} for c, t, k, name in events]))
            for now in nows:
                Engine(store, [sc], conf).run(now, deliver_messages=False)
            got_attempted = Counter((c, s, at) for c, s, at in store.fetch(
                "SELECT customer_id, step, \"at\" FROM act_log"))
            got_sent = Counter((c, at) for c, at in store.fetch("SELECT customer_id, \"at\" FROM act_outbox"))
            written = store.scalar("SELECT count(*) FROM events WHERE event = 'email_sent'")
        finally:
            store.close()
    cap_d = (cap[0], {"1h": 2 * STEP, "3h": 6 * STEP, "1d": 48 * STEP}[cap[1]]) if cap else None
    want_attempted, want_sent = reference(people, events, policy, DELAYS[d1], DELAYS[d2], cap_d, nows[-1])
    assert got_attempted == want_attempted
    assert got_sent == want_sent
    assert written == sum(want_sent.values())
