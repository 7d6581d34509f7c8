"""Stage KPIs: real stores (import, stitch, refresh) against a slow plain-Python reference,
plus a worked example with exact numbers."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.analysis.kpis import NO_CHANNEL, stage_kpis
from parcours.analysis._common import parse_duration
from parcours.data.identity import stitch
from parcours.data.importer import import_frame
from parcours.data.store import Store
from parcours.errors import AnalysisError
from parcours.journey.assign import refresh
from parcours.journey.model import load_template

from .conftest import load_customers, scratch_store

T0 = dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
MODEL = load_template("cinq-etapes")


def build(store: Store, events: list[dict], model=MODEL) -> Store:
    """Import the events (in list order), stitch identities and assign stages."""
    if events:
        frame = pd.DataFrame(
            [{"event_id": f"e{i}", "customer_id": e["customer_id"], "timestamp": e["timestamp"],
              "event": e["event"], "channel": e.get("channel")} for i, e in enumerate(events)]
        )
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        report = import_frame(store, frame)
        assert report.to_dict()["imported"] == len(events)
    stitch(store)
    refresh(store, model)
    return store


# -- the slow reference -------------------------------------------------------------------
def reference(events: list[dict], model=MODEL, window=None) -> dict:
    """Per stage: reach, conversion, median seconds, repurchase rate and channel mix, computed
    event by event the way docs/journey-model.md and docs/kpis.md describe."""
    window = model.window if window is None else window
    order = model.path_order
    by_person = defaultdict(list)
    for i, e in enumerate(events):
        by_person[e["customer_id"]].append((e["timestamp"], i, e))
    staged = {}  # person -> [(ts, stage, event, channel)] in order
    for p, evs in by_person.items():
        cur, out = model.stage_ids[0], []
        for ts, _, e in sorted(evs, key=lambda x: (x[0], x[1])):
            cur = model.match_rule({"event": e["event"], "channel": e.get("channel")}) or cur
            out.append((ts, cur, e["event"], e.get("channel")))
        staged[p] = out
    purchases = {p: sum(1 for x in evs if x[2] == "purchase") for p, evs in staged.items()}
    repurchase_stages = {"purchase", "retention"}  # the purchase rule's stage, the KPI's stage

    # visits: runs of one stage; a visit lasts until the next one starts (open if none)
    seconds = defaultdict(dict)  # stage -> person -> closed seconds
    for p, evs in staged.items():
        runs = []
        for ts, s, _, _ in evs:
            if not runs or runs[-1][0] != s:
                runs.append((s, ts))
        for (s, entered), nxt in zip(runs, runs[1:] + [None]):
            if nxt is not None:
                seconds[s][p] = seconds[s].get(p, 0) + (nxt[1] - entered).total_seconds()

    out = {}
    for k, s in enumerate(order):
        people = [p for p, evs in staged.items() if any(x[1] == s for x in evs)]
        reach = len(people)
        conversion = None
        if k < len(order) - 1 and reach:
            conv = 0
            for p in people:
                evs = staged[p]
                o = next(i for i, x in enumerate(evs) if x[1] == s)
                t = evs[o][0]
                if any(x[1] == order[k + 1] and x[0] - t <= window for x in evs[o + 1:]):
                    conv += 1
            conversion = conv / reach
        times = list(seconds[s].values())
        buyers = [p for p in people if purchases[p] >= 1]
        chans = [x[3] or NO_CHANNEL for evs in staged.values() for x in evs if x[1] == s]
        out[s] = {
            "reach": reach,
            "conversion": conversion,
            "median_seconds": statistics.median(times) if times else None,
            "repurchase_rate": (
                sum(1 for p in buyers if purchases[p] >= 2) / len(buyers)
                if s in repurchase_stages and buyers else None),
            "channel_mix": {c: chans.count(c) / len(chans) for c in set(chans)},
        }
    return out


EVENTS = ["ad_impression", "ad_click", "page_view", "product_view", "email_open", "email_click",
          "add_to_cart", "purchase", "purchase", "order_delivered", "referral_sent", "other"]

event = st.builds(
    lambda p, h, name, ch: {"customer_id": p, "timestamp": T0 + h * H, "event": name, "channel": ch},
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 24 * 20).map(lambda h: h - h % 6),  # coarse hours: many ties
    st.sampled_from(EVENTS),
    st.sampled_from(["web", "email", "social", None]),
)
journeys = st.integers(0, 14).flatmap(lambda n: st.lists(event, min_size=n, max_size=n))


def close(a, b):
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(journeys, st.sampled_from([None, "1d", "3d"]))
def test_matches_reference(events, window):
    with scratch_store() as store:
        got = stage_kpis(build(store, events), MODEL, conversion_window=window)
    want = reference(events, window=None if window is None else parse_duration(window))
    assert [s["stage"] for s in got.stages] == MODEL.path_order
    for s in got.stages:
        w = want[s["stage"]]
        assert s["reach"] == w["reach"], s["stage"]
        assert close(s["conversion"], w["conversion"]), s["stage"]
        assert close(s["median_seconds"], w["median_seconds"]), s["stage"]
        assert close(s["repurchase_rate"], w["repurchase_rate"]), s["stage"]
        assert s["channel_mix"].keys() == w["channel_mix"].keys()
        for c, share in w["channel_mix"].items():
            assert close(s["channel_mix"][c], share)
        assert sum(s["channel_mix"].values()) == pytest.approx(1.0 if s["impressions"] else 0.0)
        if s["conversion"] is not None:
            assert s["abandonment"] == pytest.approx(1 - s["conversion"])


# -- a worked example -----------------------------------------------------------------------
WORKED = [
    # a: awareness -> consideration -> purchase -> retention -> purchase (an allowed move)
    {"customer_id": "a", "timestamp": T0, "event": "ad_impression", "channel": "social"},
    {"customer_id": "a", "timestamp": T0 + H, "event": "ad_click", "channel": "social"},
    {"customer_id": "a", "timestamp": T0 + 2 * H, "event": "product_view", "channel": "web"},
    {"customer_id": "a", "timestamp": T0 + 3 * H, "event": "page_view", "channel": "web"},
    {"customer_id": "a", "timestamp": T0 + D, "event": "purchase", "channel": "web"},
    {"customer_id": "a", "timestamp": T0 + 3 * D, "event": "order_delivered", "channel": "email"},
    {"customer_id": "a", "timestamp": T0 + 5 * D, "event": "purchase", "channel": "web"},
    # b: awareness, consideration 20 days later (outside 14d), then back to awareness
    {"customer_id": "b", "timestamp": T0, "event": "ad_impression", "channel": "social"},
    {"customer_id": "b", "timestamp": T0 + 20 * D, "event": "product_view", "channel": "web"},
    {"customer_id": "b", "timestamp": T0 + 21 * D, "event": "search", "channel": "search"},
    # c: starts in purchase, then refers a friend (a skip to advocacy)
    {"customer_id": "c", "timestamp": T0, "event": "purchase", "channel": "web"},
    {"customer_id": "c", "timestamp": T0 + D, "event": "referral_sent", "channel": "social"},
]


@pytest.fixture
def worked(tmp_path):
    store = Store(tmp_path / "w.duckdb")
    build(store, WORKED)
    load_customers(store, [{"customer_id": "a", "attributes": {"segment": "b2c"}},
                           {"customer_id": "b", "attributes": {"segment": "b2b"}},
                           {"customer_id": "c"}])
    yield store
    store.close()


def test_worked_example(worked):
    r = stage_kpis(worked, MODEL)
    aw, co, pu, re_, ad = (r.stage(s) for s in MODEL.path_order)

    assert (aw["reach"], aw["impressions"], aw["ad_impressions"]) == (2, 4, 2)
    assert aw["click_through"] == 0.5  # 1 ad_click / 2 ad_impression
    assert aw["pages_per_person"] == 0.0
    assert (aw["conversion"], aw["abandonment"]) == (0.5, 0.5)  # b converts after 20 days: too late
    assert aw["median_seconds"] == (7200 + 20 * 86400) / 2  # b's second visit is open
    assert aw["backward_rate"] == 0.0
    assert aw["channel_mix"] == {"social": 0.75, "search": 0.25}
    assert aw["label"] == "Awareness"

    assert (co["reach"], co["impressions"], co["pages_per_person"]) == (2, 3, 1.5)
    assert co["click_through"] is None
    assert co["conversion"] == 0.5
    assert co["median_seconds"] == (22 * 3600 + 86400) / 2
    assert co["backward_rate"] == 0.5  # b went back to awareness
    assert co["channel_mix"] == {"web": 1.0}

    assert (pu["reach"], pu["sales"], pu["conversion"]) == (2, 3, 0.5)
    assert pu["repurchase_rate"] == 0.5  # a bought twice, c once
    assert pu["median_seconds"] == (2 * 86400 + 86400) / 2  # a's second visit is open
    assert pu["backward_rate"] == 0.0  # c's move to advocacy is a skip

    assert (re_["reach"], re_["conversion"], re_["repurchase_rate"]) == (1, 0.0, 1.0)
    assert re_["median_seconds"] == 2 * 86400
    assert re_["backward_rate"] == 0.0  # retention -> purchase is an allowed move
    assert re_["channel_mix"] == {"email": 1.0}

    assert (ad["reach"], ad["conversion"], ad["abandonment"]) == (1, None, None)
    assert ad["referral_rate"] == 1.0
    assert ad["median_seconds"] is None
    assert aw["referral_rate"] is None and aw["repurchase_rate"] is None

    kpis = {k["id"]: k for s in r.stages for k in s["kpis"]}
    assert (kpis["reach"]["value"], kpis["reach"]["met"]) == (2, False)
    assert kpis["impressions"]["value"] == 2  # ad impressions where there are some
    assert (kpis["awareness_abandonment"]["value"], kpis["awareness_abandonment"]["direction"]) == (0.5, "lower")
    assert kpis["awareness_abandonment"]["met"] is (0.5 <= kpis["awareness_abandonment"]["target"])
    assert (kpis["time_spent"]["value"], kpis["time_spent"]["met"]) == (82800, True)
    assert (kpis["click_through"]["value"], kpis["click_through"]["met"]) == (None, None)
    assert (kpis["repurchase"]["value"], kpis["referral"]["value"]) == (1.0, 1.0)
    assert kpis["csat"]["value"] is None and kpis["csat"]["met"] is None and "note" in kpis["csat"]
    assert "note" not in kpis["reach"]

    d = r.to_dict()
    assert set(d["stages"][0]) >= {"stage", "label", "reach", "impressions", "median_seconds",
                                   "pages_per_person", "click_through", "conversion", "abandonment",
                                   "repurchase_rate", "referral_rate", "backward_rate",
                                   "channel_mix", "kpis"}
    assert set(d["stages"][0]["kpis"][0]) >= {"id", "metric", "value", "target", "direction", "met"}
    assert d["breakdown"] == []
    assert len(r.to_frame()) == 5


def test_worked_window_and_range(worked):
    # a 30-day window lets b's late consideration count
    assert stage_kpis(worked, MODEL, conversion_window="30d").stage("awareness")["conversion"] == 1.0
    # b's consideration comes exactly 20 days after its awareness: the window's end is in it
    for engine in ("codes", "portable"):
        assert stage_kpis(worked, MODEL, conversion_window="20d", engine=engine).stage("awareness")["conversion"] == 1.0
        assert stage_kpis(worked, MODEL, conversion_window="479h", engine=engine).stage("awareness")["conversion"] == 0.5
    # from day 2 on: a's retention and second purchase, b's late events
    r = stage_kpis(worked, MODEL, since=T0 + 2 * D)
    assert [s["reach"] for s in r.stages] == [1, 1, 1, 1, 0]
    assert r.stage("purchase")["repurchase_rate"] == 0.0  # one purchase left in range
    r = stage_kpis(worked, MODEL, until=T0 + D)  # day 0 only
    assert r.stage("purchase")["reach"] == 1 and r.stage("advocacy")["reach"] == 0


def test_breakdowns(worked):
    r = stage_kpis(worked, MODEL, by="channel")
    groups = {b["group"]: {s["stage"]: s for s in b["stages"]} for b in r.breakdown}
    assert list(groups) == ["social", "web"]  # first touch: a and b social, c web
    assert groups["social"]["awareness"]["reach"] == 2
    assert groups["web"]["purchase"]["reach"] == 1 and groups["web"]["awareness"]["reach"] == 0
    assert groups["web"]["advocacy"]["referral_rate"] == 1.0
    assert groups["social"]["purchase"]["repurchase_rate"] == 1.0
    assert r.to_frame().group.tolist().count("web") == 5

    r = stage_kpis(worked, MODEL, by="attributes.segment")
    groups = {b["group"]: {s["stage"]: s for s in b["stages"]} for b in r.breakdown}
    assert list(groups) == ["b2b", "b2c", None]
    assert groups["b2b"]["consideration"]["backward_rate"] == 1.0
    assert groups["b2c"]["awareness"]["conversion"] == 1.0
    assert groups[None]["advocacy"]["reach"] == 1


def test_errors_and_empty(tmp_path):
    store = Store(tmp_path / "e.duckdb")
    with pytest.raises(AnalysisError):
        stage_kpis(store, MODEL)  # no stage assignment yet
    build(store, [])
    r = stage_kpis(store, MODEL)
    assert [s["reach"] for s in r.stages] == [0] * 5
    assert all(s["conversion"] is None and s["channel_mix"] == {} for s in r.stages)
    with pytest.raises(AnalysisError):
        stage_kpis(store, MODEL, by="country")
    with pytest.raises(AnalysisError):
        stage_kpis(store, MODEL, conversion_window="soon")
    store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(journeys, st.sampled_from([None, "channel", "attributes.segment"]),
       st.sampled_from([None, T0 + 3 * D]), st.sampled_from([None, "1d"]), st.booleans())
def test_codes_slices_agree_with_portable(events, by, since, window, in_order):
    """On big stores the codes engine reads a few persons at a time (cut at row ids, or by a
    histogram of keys when the table is not stored in order) and keeps sparse tallies for
    many groups: forced here on small stores, it gives the SQL's numbers."""
    from parcours.analysis import kpis

    with scratch_store() as store:
        build(store, events)
        load_customers(store, [{"customer_id": "a", "attributes": {"segment": "x"}},
                               {"customer_id": "b", "attributes": {"segment": "y"}}, {"customer_id": "c"}])
        kw = dict(by=by, since=since, conversion_window=window)
        want = stage_kpis(store, MODEL, engine="portable", **kw).to_dict()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(kpis, "SLICE_EVENTS", 3)
            mp.setattr(kpis, "DENSE_KEYS", 0)
            if not in_order:
                mp.setattr(kpis, "clustered", lambda store: False)
            got = stage_kpis(store, MODEL, engine="codes", **kw).to_dict()
    assert got == want
