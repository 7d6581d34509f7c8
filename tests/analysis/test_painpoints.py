"""Pain points: statistics against plain-Python references, planted frictions found with the
right kind, place and period, noise left alone, and recall/precision on generated data."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from parcours.analysis.actions import CATALOGUE, actions_for
from parcours.analysis.detectors import Floors, loop_counts, silos, steps_of
from parcours.analysis.friction_match import matches, score
from parcours.analysis.journey_frame import load
from parcours.analysis.painpoints import KINDS, painpoints
from parcours.analysis.significance import benjamini_hochberg, rate_test, scan_periods
from parcours.errors import AnalysisError
from parcours.synth.frictions import KINDS as SYNTH_KINDS

from .conftest import T0, load_customers, load_journey, scratch_store

DAY = dt.timedelta(days=1)
STAGES = {"consideration": 0, "purchase": 1, "retention": 2}
CHECKOUT = ("cart", "checkout", "shipping_options", "account_form", "payment_page")


def ev(person, ts, event, touchpoint, stage, channel="web", value=None, **props):
    return {"person_id": person, "timestamp": ts, "event": event, "touchpoint": touchpoint,
            "channel": channel, "stage": stage, "stage_index": STAGES[stage], "properties": props or None,
            "value": value}


def checkout_journey(person, t, channel, exit_at, out):
    """product page, then the checkout steps until ``exit_at`` (None: buys)."""
    out.append(ev(person, t, "product_view", "product_page", "consideration", channel))
    for i, step in enumerate(CHECKOUT):
        out.append(ev(person, t + (i + 1) * dt.timedelta(minutes=2), "page_view", step, "purchase", channel))
        if step == exit_at:
            return
    out.append(ev(person, t + 20 * dt.timedelta(minutes=1), "purchase", "confirmation", "purchase", channel,
                  value=80.0))


BASE_EXIT = {"cart": 0.2, "checkout": 0.05, "shipping_options": 0.3, "account_form": 0.15, "payment_page": 0.1}


def world(seed=0, people=3000, weeks=20, plant=None):
    """Checkout journeys spread over ``weeks``; ``plant(person_index, week, channel)`` may
    return {step: exit probability} overrides for that person."""
    rnd = random.Random(seed)
    out = []
    for i in range(people):
        week = rnd.randrange(weeks)
        t = T0 + week * 7 * DAY + rnd.randrange(6 * 24) * dt.timedelta(hours=1)
        channel = "app" if rnd.random() < 0.4 else "web"
        probs = dict(BASE_EXIT, **((plant or (lambda *a: {}))(i, week, channel)))
        exit_at = next((s for s in CHECKOUT if rnd.random() < probs[s]), None)
        checkout_journey(f"p{i:05d}", t, channel, exit_at, out)
    return out


# -- statistics against references ----------------------------------------------------


@given(st.integers(0, 60), st.integers(1, 60), st.integers(0, 60), st.integers(1, 60))
@settings(max_examples=60, deadline=None)
def test_rate_test_is_the_pooled_two_proportion_z(k1, n1, k0, n0):
    k1, k0 = min(k1, n1), min(k0, n0)
    t = rate_test(k1, n1, k0, n0)
    p = (k1 + k0) / (n1 + n0)
    var = p * (1 - p) * (1 / n1 + 1 / n0)
    if var == 0:
        assert t.log_p == 0
        return
    z = (k1 / n1 - k0 / n0) / math.sqrt(var)
    assert t.z == pytest.approx(z)
    assert math.exp(t.log_p) == pytest.approx(1 - stats.norm.cdf(z), abs=1e-12)
    assert rate_test(k1, n1, k0, n0, higher=False).z == pytest.approx(-z)


@given(st.lists(st.floats(1e-12, 1.0), min_size=0, max_size=30))
@settings(max_examples=80, deadline=None)
def test_benjamini_hochberg_equals_the_textbook_step_up(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    want = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down: q = min over j >= rank of p_j m / j
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        want[i] = running
    got = benjamini_hochberg(np.log(ps))
    assert list(got) == pytest.approx(want, rel=1e-9)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=0, max_size=14),
       st.integers(1, 15))
@settings(max_examples=80, deadline=None)
def test_scan_finds_the_most_abnormal_window_by_brute_force(cells, min_n):
    k = [min(a, b) for a, b in cells]
    n = [b for _, b in cells]
    got = scan_periods(np.array(k), np.array(n), min_n=min_n)
    best, tried = None, 0
    periods = len(n)
    if periods >= 3:
        for length in range(1, max(1, int(periods * 0.5)) + 1):
            for s in range(0, periods - length + 1):
                k1, n1 = sum(k[s:s + length]), sum(n[s:s + length])
                around = range(max(0, s - length), min(periods, s + 2 * length))
                k0 = sum(k[i] for i in around) - k1
                n0 = sum(n[i] for i in around) - n1
                if n1 < min_n or n0 < min_n:
                    continue
                tried += 1
                p = (k1 + k0) / (n1 + n0)
                var = p * (1 - p) * (1 / n1 + 1 / n0)
                if var > 0:
                    z = (k1 / n1 - k0 / n0) / math.sqrt(var)
                    if best is None or z > best[0]:
                        best = (z, s, s + length - 1)
    if best is None:
        assert got is None or not np.isfinite(got.test.z) or got.test.log_p == 0
        return
    assert got is not None
    assert got.test.z == pytest.approx(best[0])
    assert got.windows == tried
    assert got.log_p == pytest.approx(min(0.0, got.test.log_p + math.log(tried)))


# -- per-place metrics against direct counting -----------------------------------------

TPS = ("cart", "checkout", "pay", "home")
event_st = st.tuples(st.integers(0, 4), st.integers(0, 6), st.sampled_from(TPS),
                     st.sampled_from(["web", "app"]), st.booleans())


def random_events(rows):
    """(person, minute, touchpoint, channel, is_purchase) -> journey rows; home is browsing."""
    out = []
    for person, minute, tp, channel, buy in rows:
        ts = T0 + minute * dt.timedelta(minutes=1)
        if buy:
            out.append(ev(f"p{person}", ts, "purchase", "confirm", "purchase", channel, value=10.0))
        elif tp == "home":
            out.append(ev(f"p{person}", ts, "page_view", tp, "consideration", channel))
        else:
            out.append(ev(f"p{person}", ts, "page_view", tp, "purchase", channel))
    return out


def reference_exits(events):
    """Per (touchpoint, channel): people reaching the step, people leaving there."""
    by_person = defaultdict(list)
    for e in events:
        by_person[e["person_id"]].append(e)
    counts = defaultdict(lambda: [0, 0])
    steps = {"cart", "checkout", "pay", "confirm"}
    for evs in by_person.values():  # already in time then seq order (list order)
        evs = sorted(evs, key=lambda e: (e["timestamp"], e["seq"]))
        step_events = [e for e in evs if e["stage"] == "purchase" and e["touchpoint"] in steps]
        if not step_events:
            continue
        last = step_events[-1]
        bought = any(e["event"] == "purchase" and e["timestamp"] >= last["timestamp"] for e in evs)
        for key in {(e["touchpoint"], e["channel"]) for e in step_events}:
            counts[key][0] += 1
        if not bought:
            counts[(last["touchpoint"], last["channel"])][1] += 1
    return dict(counts)


@given(st.lists(event_st, min_size=0, max_size=25))
@settings(max_examples=15, deadline=None)
def test_step_exits_equal_direct_counting(rows):
    events = [dict(e, seq=i) for i, e in enumerate(random_events(rows))]
    with scratch_store() as store:
        load_journey(store, events)
        if not events:
            assert painpoints(store).painpoints == []
            return
        jf = load(store, ("purchase",))
        stp = steps_of(jf)
        want = reference_exits(events)
        if stp.stage is None:
            assert not any(e["event"] == "purchase" for e in events)
            return
        got = {}
        for r in stp.reach.itertuples():
            c = got.setdefault((r.touchpoint, r.channel), [0, 0])
            c[0] += 1
            c[1] += int(r.exited)
        # every purchase-stage touchpoint is a step here (all their events are in that stage)
        assert got == want


def reference_loops(events):
    """Per (pair, channel): people with at least one X, Y, X pass, and with 4 or more."""
    by_person = defaultdict(list)
    for e in events:
        by_person[e["person_id"]].append(e)
    per = defaultdict(int)
    for person, evs in by_person.items():
        evs = sorted(evs, key=lambda e: (e["timestamp"], e["seq"]))
        for a, b, c in zip(evs, evs[1:], evs[2:]):
            if c["touchpoint"] == a["touchpoint"] and b["touchpoint"] != c["touchpoint"]:
                pair = tuple(sorted((c["touchpoint"], b["touchpoint"])))
                per[(person, pair, c["channel"])] += 1
    out = defaultdict(lambda: [0, 0])
    for (person, pair, channel), k in per.items():
        out[(pair, channel)][0] += 1
        out[(pair, channel)][1] += int(k >= 4)
    return dict(out)


@given(st.lists(event_st, min_size=0, max_size=30))
@settings(max_examples=15, deadline=None)
def test_loop_counts_equal_direct_counting(rows):
    events = [dict(e, seq=i) for i, e in enumerate(random_events(rows))]
    if not events:
        return
    with scratch_store() as store:
        load_journey(store, events)
        jf = load(store, ("purchase",))
        got = {(tuple(sorted((r.a, r.b))), r.channel or None): [r.n, r.loops]
               for r in loop_counts(jf, 4)[0].itertuples()}
        assert got == reference_loops(events)


def test_silo_repeats_count_new_tickets_and_other_channels(journey_store):
    """A new ticket within 3 days is a repeat; the same ticket (escalation) is not; a contact
    10 days later starts its own chain."""
    events = []
    for i in range(40):
        p = f"s{i}"
        events += [ev(p, T0, "support_contact", "call_center", "retention", "phone", matter="delivery", ticket_id=f"T{i}a"),
                   ev(p, T0 + DAY, "support_contact", "chat_widget", "retention", "chat", matter="delivery", ticket_id=f"T{i}b")]
    for i in range(40):
        p = f"e{i}"
        events += [ev(p, T0, "support_contact", "chat_widget", "retention", "chat", matter="price", ticket_id=f"E{i}"),
                   ev(p, T0 + DAY, "complaint", "complaint_form", "retention", "email", matter="price", ticket_id=f"E{i}")]
    for i in range(40):
        p = f"l{i}"
        events += [ev(p, T0, "support_contact", "support_email", "retention", "email", matter="price"),
                   ev(p, T0 + 10 * DAY, "support_contact", "call_center", "retention", "phone", matter="price")]
    store = journey_store(events)
    jf = load(store, ("purchase",))
    found = {c.place["channel"]: c for c in silos(jf, steps_of(jf), Floors())}
    phone = found["phone"].evidence  # 40 repeated, 40 late contacts that start a chain
    assert (phone["n"], phone["value"], phone["affected_customers"]) == (80, 0.5, 40)
    assert (found["chat"].evidence["n"], found["chat"].evidence["value"]) == (40, 0.0)  # escalations
    assert (found["email"].evidence["n"], found["email"].evidence["value"]) == (40, 0.0)


# -- planted frictions on hand-built journeys ------------------------------------------


def test_noise_alone_gives_no_pain_point(journey_store):
    store = journey_store(world(seed=1))
    assert painpoints(store).painpoints == []


def test_payment_outage_is_found_with_its_weeks(journey_store):
    outage = {"payment_page": 0.7}
    store = journey_store(world(seed=2, plant=lambda i, week, ch: outage if week in (9, 10) else {}))
    result = painpoints(store)
    found = result.painpoints
    frame = result.to_frame(lang="fr")
    assert list(frame.kind) == ["Abandon anormal"] and list(frame.touchpoint) == ["payment_page"]
    assert len(found) == 1
    p = found[0]
    assert (p.kind, p.touchpoint, p.stage) == ("drop_off", "payment_page", "purchase")
    start = (T0 + 9 * 7 * DAY).date()
    assert (p.start, p.end) == (start.isoformat(), (start + 13 * DAY).isoformat())
    assert p.evidence["value"] > 0.5 > 0.2 > p.evidence["baseline"]
    assert p.impact["lost_conversions_per_month"] > 0
    assert p.impact["lost_revenue_per_month"] == pytest.approx(80.0 * p.impact["lost_conversions_per_month"])
    assert p.actions and all(a["fr"] and a["en"] for a in p.actions)
    d = p.to_dict()
    assert set(d) >= {"kind", "stage", "touchpoint", "channel", "segment", "start", "end", "evidence",
                      "impact", "confidence", "verbatims", "actions"}
    json.dumps(d)


def test_forced_account_in_the_app_is_found_always_on_that_channel(journey_store):
    events = world(seed=3, plant=lambda i, week, ch: {"account_form": 0.45} if ch == "app" else {})
    store = journey_store(events)
    found = painpoints(store).painpoints
    assert [(p.kind, p.touchpoint, p.channel, p.start) for p in found] == [
        ("forced_account", "account_form", "app", None)]


def test_a_segment_with_more_steps_and_more_exits_is_a_long_checkout(journey_store):
    rnd = random.Random(4)
    events, customers = [], []
    for i in range(1500):
        person = f"p{i:05d}"
        b2b = i % 4 == 0
        customers.append({"customer_id": person, "attributes": {"segment": "b2b" if b2b else "b2c"}})
        t = T0 + rnd.randrange(100) * DAY
        events.append(ev(person, t, "product_view", "product_page", "consideration"))
        steps = list(CHECKOUT) + (["billing", "vat", "po_ref"] if b2b else [])
        left = False
        for j, s in enumerate(steps):
            events.append(ev(person, t + (j + 1) * dt.timedelta(minutes=1), "page_view", s, "purchase"))
            if rnd.random() < (0.12 if s in ("billing", "vat", "po_ref") else 0.05):
                left = True
                break
        if not left:
            events.append(ev(person, t + dt.timedelta(hours=1), "purchase", "confirmation", "purchase", value=50.0))
    store = journey_store(events)
    load_customers(store, customers)
    found = painpoints(store).painpoints
    assert [(p.kind, p.segment) for p in found] == [("long_checkout", "b2b")]
    assert found[0].evidence["extra_steps"] == pytest.approx(3.0, abs=0.01)


def test_verbatims_come_from_the_place_negative_first(journey_store):
    events = world(seed=2, plant=lambda i, week, ch: {"payment_page": 0.7} if week in (9, 10) else {})
    store = journey_store(events)
    with store.transaction() as con:
        rows = [("p00001", T0 + 65 * DAY, "verbatim", None, "Le paiement ne passe pas", "web", "payment_page"),
                ("p00002", T0 + 66 * DAY, "csat", 5, "Très bien", "web", "payment_page"),
                ("p00003", T0 + 66 * DAY, "csat", 1, "Paiement refusé trois fois", "web", "payment_page"),
                ("p00004", T0 + 66 * DAY, "csat", 1, "Rien à voir", "web", "cart")]
        for i, r in enumerate(rows):
            con.execute("INSERT INTO feedback (feedback_id, customer_id, timestamp, kind, score, text, channel, "
                        "touchpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [f"f{i}", *r])
    p = painpoints(store).painpoints[0]
    # the negative answer, then the unscored exit verbatim, then the satisfied one
    assert p.verbatims == ["Paiement refusé trois fois", "Le paiement ne passe pas", "Très bien"]
    assert "Rien à voir" not in p.verbatims


def test_parameters_are_checked(journey_store):
    store = journey_store(world(seed=1, people=50))
    with pytest.raises(AnalysisError, match="fdr"):
        painpoints(store, fdr=2)
    with pytest.raises(AnalysisError, match="conversion"):
        painpoints(store, conversions=())


def test_kinds_and_catalogue():
    assert KINDS == SYNTH_KINDS
    for kind in KINDS:
        acts = actions_for(kind, "purchase")
        assert acts and all(a["stage"] in CATALOGUE and a["fr"] and a["en"] for a in acts)


def test_matching_rule():
    f = {"id": "x", "kind": "surprise_cost", "where": {"touchpoint": "shipping_options", "channel": "web"}}
    assert matches(f, {"kind": "surprise_cost", "touchpoint": "shipping_options", "channel": "web", "stage": "purchase"})
    assert matches(f, {"kind": "surprise_cost", "touchpoint": "shipping_options", "channel": None})
    assert not matches(f, {"kind": "surprise_cost", "touchpoint": "shipping_options", "channel": "app"})
    assert not matches(f, {"kind": "drop_off", "touchpoint": "shipping_options", "channel": "web"})
    assert not matches(f, {"kind": "surprise_cost", "touchpoint": None, "channel": None, "stage": "purchase"})
    s = score([f], [{"kind": "surprise_cost", "touchpoint": "shipping_options", "channel": "web"},
                    {"kind": "loop", "touchpoint": "x", "channel": "web"}])
    assert (s["recall"], s["precision"]) == (1.0, 0.5)


# -- generated data: the planted frictions against truth.json --------------------------


def _generated(tmp, frictions):
    from parcours.data.importer import import_file
    from parcours.synth import generate
    from parcours.workspace import Workspace

    gen = generate(tmp / "data", customers=20000, seed=1, frictions=frictions)
    ws = Workspace.init(tmp / "ws")
    for kind in ("customers", "events", "feedback", "spend"):
        import_file(ws.store, gen.paths[kind], kind)
    ws.refresh()
    return ws, json.loads((tmp / "data" / "truth.json").read_text())["frictions"]


@pytest.mark.slow
def test_generated_frictions_are_found_and_noise_is_not(tmp_path):
    ws, truth = _generated(tmp_path / "f", "default")
    with ws:
        found = [p.to_dict() for p in painpoints(ws.store).painpoints]
    s = score(truth, found)
    assert s["recall"] >= 0.9, s["missed"]
    assert s["precision"] >= 0.8, s["false_findings"]
    by_id = {f["id"]: f for f in truth}
    outage = next(p for p in found if matches(by_id["payment-outage"], p))
    assert outage["start"] <= "2025-03-17" <= outage["end"]  # inside the planted 10-23 March
    clean, _ = _generated(tmp_path / "n", None)
    with clean:
        assert len(painpoints(clean.store).painpoints) <= 1


# -- moments of truth -------------------------------------------------------------------


def reference_moments(events, conversions=("purchase",), outcome="conversion"):
    """Per touchpoint: (exposed, pooled difference, crude difference), every rule spelled out.

    conversion: people who converted before the moment are left out, success is a conversion
    at or after it; retention: only people who converted at or before it count (customers),
    success is a conversion strictly after it."""
    retention = outcome == "retention"

    def eligible(first_conv, ts):
        if retention:
            return first_conv is not None and first_conv <= ts
        return first_conv is None or not first_conv < ts

    def success(convs, ts):
        return any(c > ts for c in convs) if retention else any(c >= ts for c in convs)

    from parcours.analysis.moments import stratified_difference

    by_person = defaultdict(list)
    for e in events:
        by_person[e["person_id"]].append(e)
    people = {}
    for person, evs in by_person.items():
        evs = sorted(evs, key=lambda e: (e["timestamp"], e["seq"]))
        best, rows = -1, []
        for e in evs:
            before = best
            best = max(best, e["stage_index"])
            rows.append((e, before, best))
        convs = [e["timestamp"] for e in evs if e["event"] in conversions]
        people[person] = (rows, min(convs) if convs else None, convs)
    ranks = [-1] + sorted({e["stage_index"] for e in events})
    out = {}
    for tp in sorted({e["touchpoint"] for e in events if e["touchpoint"] and e["event"] not in conversions}):
        strata = defaultdict(lambda: [0, 0, 0, 0])
        exposed_people = set()
        for person, (rows, first_conv, convs) in people.items():
            hit = next(((e, b) for e, b, _ in rows if e["touchpoint"] == tp and e["event"] not in conversions), None)
            if hit is None:
                continue
            exposed_people.add(person)
            e, before = hit
            if not eligible(first_conv, e["timestamp"]):
                continue
            s = strata[(before, e["channel"] or "")]
            s[0] += success(convs, e["timestamp"])
            s[1] += 1
        n_exposed = sum(s[1] for s in strata.values())
        if not n_exposed:
            continue
        pools = defaultdict(lambda: [0, 0])  # (rank, channel) -> converted, people
        for person, (rows, first_conv, convs) in people.items():
            if person in exposed_people:
                continue
            for r in ranks:
                at = next((e for e, _, best in rows if best >= r), None)
                if at is None or not eligible(first_conv, at["timestamp"]):
                    continue
                for key in ((r, at["channel"] or ""), (r, None)):  # None: any channel
                    pools[key][0] += success(convs, at["timestamp"])
                    pools[key][1] += 1
        for (r, ch), s in strata.items():
            s[2], s[3] = pools[(r, ch)] if pools[(r, ch)][1] else pools[(r, None)]
        effect, _, crude = stratified_difference([tuple(v) for v in strata.values()])
        out[tp] = (n_exposed, effect, crude)
    return out


@given(st.lists(event_st, min_size=1, max_size=25), st.sampled_from(["conversion", "retention"]))
@settings(max_examples=24, deadline=None)
def test_moments_equal_the_plain_stratified_reference(rows, outcome):
    from parcours.analysis.moments import moments_of_truth

    events = [dict(e, seq=i) for i, e in enumerate(random_events(rows))]
    with scratch_store() as store:
        load_journey(store, events)
        got = {m.touchpoint: m for m in moments_of_truth(store, outcome=outcome, conversions=("purchase",),
                                                         min_exposed=1).moments}
    want = {tp: w for tp, w in reference_moments(events, outcome=outcome).items() if w[1] == w[1]}  # NaN: none
    assert set(got) == set(want)
    for tp, (n, effect, crude) in want.items():
        assert got[tp].exposed == n
        assert got[tp].effect == pytest.approx(effect)
        assert got[tp].crude == pytest.approx(crude, nan_ok=True)


def test_a_touchpoint_that_helps_is_a_positive_moment_despite_progress(journey_store):
    """Demo viewers buy more than others who reached the same stage; the cart, seen only by
    people further on, is not credited with the demo's effect."""
    rnd = random.Random(7)
    events = []
    for i in range(2000):
        p = f"p{i:05d}"
        t = T0 + rnd.randrange(60) * DAY
        events.append(ev(p, t, "product_view", "product_page", "consideration"))
        demo = rnd.random() < 0.3
        if demo:
            events.append(ev(p, t + dt.timedelta(minutes=1), "page_view", "demo", "consideration"))
        if rnd.random() < (0.5 if demo else 0.2):
            events.append(ev(p, t + dt.timedelta(minutes=2), "add_to_cart", "cart", "purchase"))
            events.append(ev(p, t + dt.timedelta(minutes=3), "purchase", "confirmation", "purchase", value=30.0))
    from parcours.analysis.moments import moments_of_truth

    result = moments_of_truth(journey_store(events), conversions=("purchase",))
    demo = next(m for m in result.moments if m.touchpoint == "demo")
    assert demo.significant and demo.low < 0.3 < demo.high and demo.effect > 0.2
    json.dumps(result.to_dict())


def test_cli_painpoints_and_moments(tmp_path):
    from typer.testing import CliRunner

    from parcours.cli import app
    from parcours.data.importer import import_frame
    from parcours.workspace import Workspace
    import pandas as pd

    events = world(seed=2, plant=lambda i, week, ch: {"payment_page": 0.7} if week in (9, 10) else {})
    frame = pd.DataFrame([{"event_id": f"e{i}", "customer_id": e["person_id"], "timestamp": e["timestamp"],
                           "event": e["event"], "channel": e["channel"], "touchpoint": e["touchpoint"],
                           "value": e["value"]} for i, e in enumerate(events)])
    ws = Workspace.init(tmp_path / "ws", template="cinq-etapes")
    import_frame(ws.store, frame)
    ws.refresh()
    ws.close()
    runner = CliRunner()
    out = runner.invoke(app, ["painpoints", str(tmp_path / "ws"), "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)["painpoints"]
    assert [(p["kind"], p["touchpoint"]) for p in found] == [("drop_off", "payment_page")]
    fr = runner.invoke(app, ["painpoints", str(tmp_path / "ws"), "--lang", "fr"])
    assert "Abandon anormal" in fr.output and "taux de sortie" in fr.output
    en = runner.invoke(app, ["moments", str(tmp_path / "ws"), "--lang", "en"])
    assert en.exit_code == 0 and "Moments of truth" in en.output
    added = runner.invoke(app, ["segment", "add", str(tmp_path / "ws"), "app", "--rule", "first_channel = app"])
    assert added.exit_code == 0, added.output
    scoped = runner.invoke(app, ["painpoints", str(tmp_path / "ws"), "--segment", "app", "--json"])
    assert scoped.exit_code == 0, scoped.output  # the app people alone: the outage is still there
    assert [p["touchpoint"] for p in json.loads(scoped.output)["painpoints"]] == ["payment_page"]


def test_a_touchpoint_that_brings_customers_back_is_a_positive_retention_moment(journey_store):
    """After a first purchase, members who open the loyalty page buy again more often; the page
    seen before any purchase does not count (those people are not customers yet)."""
    rnd = random.Random(9)
    events = []
    for i in range(1500):
        p = f"p{i:05d}"
        t = T0 + rnd.randrange(60) * DAY
        events.append(ev(p, t, "purchase", "confirmation", "purchase", value=30.0))
        loyal = rnd.random() < 0.3
        events.append(ev(p, t + DAY, "page_view", "loyalty" if loyal else "app_home", "retention", "app"))
        if rnd.random() < (0.5 if loyal else 0.2):
            events.append(ev(p, t + 10 * DAY, "purchase", "confirmation", "purchase", value=30.0))
    from parcours.analysis.moments import moments_of_truth

    result = moments_of_truth(journey_store(events), outcome="retention", conversions=("purchase",))
    loyalty = next(m for m in result.moments if m.touchpoint == "loyalty")
    assert loyalty.significant and loyalty.low < 0.3 < loyalty.high and loyalty.effect > 0.2
    assert result.to_dict()["outcome"] == "retention"
    # the same journeys judged on first conversion: everyone had bought before the page
    assert all(m.touchpoint != "loyalty" for m in moments_of_truth(
        journey_store(events), outcome="conversion", conversions=("purchase",)).moments)


def test_a_touchpoint_followed_by_unhappy_answers_is_a_negative_satisfaction_moment(journey_store):
    rnd = random.Random(8)
    events, answers = [], []
    for i in range(1200):
        p = f"p{i:05d}"
        t = T0 + rnd.randrange(60) * DAY
        events.append(ev(p, t, "purchase", "confirmation", "purchase", value=30.0))
        hotline = rnd.random() < 0.3
        if hotline:
            events.append(ev(p, t + DAY, "support_contact", "hotline", "retention", "phone"))
        else:
            events.append(ev(p, t + DAY, "app_open", "app_home", "retention", "app"))
        bad = rnd.random() < (0.6 if hotline else 0.2)
        answers.append((f"f{i}", p, t + 2 * DAY, "csat", 1 if bad else 5))
    store = journey_store(events)
    with store.transaction() as con:
        con.executemany("INSERT INTO feedback (feedback_id, customer_id, timestamp, kind, score) VALUES (?, ?, ?, ?, ?)",
                        answers)
    from parcours.analysis.moments import moments_of_truth

    result = moments_of_truth(store, outcome="satisfaction", conversions=("purchase",))
    hotline = next(m for m in result.moments if m.touchpoint == "hotline")
    assert hotline.significant and hotline.low < -0.4 < hotline.high
    assert result.to_dict()["outcome"] == "satisfaction"
    with pytest.raises(AnalysisError, match="outcome"):
        moments_of_truth(store, outcome="joy")


def test_since_and_until_leave_the_incident_out(journey_store):
    store = journey_store(world(seed=2, plant=lambda i, week, ch: {"payment_page": 0.7} if week in (9, 10) else {}))
    after = (T0 + 12 * 7 * DAY).date().isoformat()
    assert painpoints(store, since=after).painpoints == []
    # the last three weeks before `until` are not scanned (unfinished journeys): 14 weeks kept
    until = (T0 + 14 * 7 * DAY).date().isoformat()
    assert [p.touchpoint for p in painpoints(store, until=until).painpoints] == ["payment_page"]
