"""One detector per kind of friction (DOMAIN.md section 5), each scanning its candidate places.

Every detector returns *all* the places it tested, significant or not, as :class:`Candidate`
objects: the caller controls the false discovery rate over the whole set (Benjamini–Hochberg)
and keeps those whose effect also clears the kind's floor. Effects and tests per kind are
described in ``docs/painpoints.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from .journey_frame import JourneyFrame, shifted
from .significance import RateTest, equivalence_test, rate_test, scan_periods, shift_test

#: minimum units (people, contacts, answers ...) on each side of a comparison.
MIN_N = 30


@dataclass
class Floors:
    """Effect sizes below which a significant difference is not worth reporting."""

    rate_difference: float = 0.05  # absolute, for abandonment and repeat-contact rates
    exit_difference: float = 0.08  # absolute, for exits at one step
    rate_ratio: float = 1.25
    conversion_ratio: float = 0.75  # audience: at most this share of the others' conversion
    conversion_difference: float = 0.02
    traffic_share: float = 0.05
    loop_difference: float = 0.10
    loop_min: int = 4  # back-and-forth passes that make a loop
    extra_steps: float = 0.75
    pass_share: float = 0.5  # superfluous: a step most journeys pass through
    equivalence_margin: float = 0.05
    price_gap: float = 0.01  # a price this far from the other channels' differs
    price_share: float = 0.05
    feedback_difference: float = 0.15
    slow_difference: float = 0.20
    slow_ratio: float = 1.5
    silo_window_days: float = 3.0
    wait_days: float = 30.0  # slowness: only events that usually follow the order within this


@dataclass
class Candidate:
    kind: str
    place: dict
    log_p: float
    effect_ok: bool
    evidence: dict
    impact: dict
    start: int | None = None
    end: int | None = None
    who: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    def key(self) -> tuple:
        p = self.place
        return (self.kind, p.get("touchpoint") or p.get("event") or p.get("channel") or p.get("segment"))


def _place(stage=None, event=None, touchpoint=None, channel=None, segment=None) -> dict:
    return {"stage": stage, "event": event, "touchpoint": touchpoint, "channel": channel, "segment": segment}


def _rate_evidence(metric: tuple[str, str], test: RateTest, test_name: str = "two-proportion z (one-sided)") -> dict:
    """The evidence of a rate comparison; ``metric`` is (English, French)."""
    lo, hi = test.interval()
    return {"metric": metric[0], "metric_fr": metric[1], "value": test.rate, "baseline": test.baseline, "effect": test.difference,
            "interval": [lo, hi], "test": test_name, "n": test.n1, "n_baseline": test.n0}


def _ratio_ok(test: RateTest, floors: Floors, difference: float | None = None) -> bool:
    base = test.baseline
    return (test.difference >= (floors.rate_difference if difference is None else difference)
            and (base == 0 or test.rate / base >= floors.rate_ratio))


def _mode(values: pd.Series):
    v = values.dropna()
    return None if v.empty else v.value_counts().index[0]


# -- context shared by the checkout detectors ---------------------------------------------


@dataclass
class Steps:
    """The conversion stage's steps: touchpoints most of whose events are in that stage."""

    stage: str | None
    touchpoints: list
    events: pd.DataFrame  # step events of the stage (pid, ts, touchpoint, channel, period)
    reach: pd.DataFrame  # one row per (pid, touchpoint, channel): ts, exited, converted_after
    converted_at: pd.Series  # pid -> last conversion time
    order_value: float


def steps_of(jf: JourneyFrame) -> Steps:
    ev = jf.events
    conv = ev[ev.event.isin(jf.conversions)]
    stage = _mode(conv.stage.astype(object)) if len(conv) else None
    value = conv.value[conv.value > 0]
    order_value = float(value.mean()) if len(value) else 0.0
    if stage is None:
        empty = pd.DataFrame(columns=["pid", "ts", "touchpoint", "channel", "exited", "converted_after"])
        return Steps(None, [], empty, empty, pd.Series(dtype="datetime64[ns]"), order_value)
    tpt = jf.touchpoint_table()
    touchpoints = sorted(tpt.index[(tpt.stage == stage) & (tpt.stage_share > 0.5)])
    se = ev[(ev.stage == stage) & ev.touchpoint.isin(touchpoints)]
    se = se[["pid", "ts", "touchpoint", "channel"]].copy()
    se["touchpoint"] = se.touchpoint.astype(object)
    se["channel"] = se.channel.astype(object)
    converted_at = conv.groupby("pid").ts.max()
    last = se.groupby("pid").tail(1).set_index("pid")
    conv_after_last = converted_at.reindex(last.index)
    exited_pid = last.index[~(conv_after_last >= last.ts).to_numpy()]
    reach = se.groupby(["pid", "touchpoint", "channel"], dropna=False).ts.max().reset_index()
    lastk = last.loc[exited_pid, ["touchpoint", "channel"]].reset_index().assign(exited=True)
    reach = reach.merge(lastk, on=["pid", "touchpoint", "channel"], how="left")
    reach["exited"] = reach.exited.fillna(False).astype(bool)
    reach["converted_after"] = (converted_at.reindex(reach.pid).to_numpy() >= reach.ts.to_numpy())
    reach["period"] = jf.period_of(reach.ts)
    return Steps(stage, touchpoints, se, reach, converted_at, order_value)


#: how a step's role is recognised: (kind, words in its touchpoint name, events held there)
ROLES = (
    ("forced_account", ("account", "compte", "signup", "register"), ("account_created",)),
    ("surprise_cost", ("shipping", "livraison", "delivery_options", "fees", "frais"), ()),
)


def step_kind(touchpoint: str, events_there: set) -> str:
    """Which Baymard reason an abnormal exit at this step is: by what the step does."""
    name = str(touchpoint).lower()
    for kind, words, events in ROLES:
        if any(w in name for w in words) or events_there & set(events):
            return kind
    return "drop_off"


# -- detectors -----------------------------------------------------------------------------


def step_exits(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """drop_off / surprise_cost / forced_account: people leaving at a step, by place and period."""
    out: list[Candidate] = []
    if st.stage is None:
        return out
    reach = st.reach
    events_at = jf.touchpoint_table().events
    seg = jf.segment.reindex(reach.pid).to_numpy()
    for tp in st.touchpoints:
        at = reach[reach.touchpoint == tp]
        if at.exited.sum() == 0 or len(at) < MIN_N:
            continue
        kind = step_kind(tp, events_at.get(tp, set()))
        seg_at = seg[(reach.touchpoint == tp).to_numpy()]
        seg_known = pd.Series(seg_at).dropna()
        seg_share = seg_known.value_counts(normalize=True).to_dict() if len(seg_known) else {}

        def add(test, place_kw, start=None, end=None, log_p=None, windows=None, mask=None):
            sub = at if mask is None else at[mask]
            went_on = sub[~sub.exited]
            downstream = float(went_on.converted_after.mean()) if len(went_on) else 0.0
            months = jf.window_months(start, end)
            lost = max(test.difference, 0.0) * test.n1 * downstream / months
            ev = _rate_evidence(("exit rate at the step", "taux de sortie à l'étape"), test)
            if windows:
                ev["test"] = f"two-proportion z, scan of {windows} windows of weeks (Bonferroni)"
                ev["baseline_is"] = "the same place in the other weeks"
            else:
                ev["baseline_is"] = "the same step elsewhere"
            ev["affected_customers"] = int(test.n1)
            ev["segment_share"] = seg_share
            pids = sub.pid.to_numpy()
            out.append(Candidate(
                kind, _place(stage=st.stage, touchpoint=tp, **place_kw),
                test.log_p if log_p is None else log_p, _ratio_ok(test, floors, floors.exit_difference), ev,
                {"affected_per_month": test.n1 / months, "lost_conversions_per_month": lost,
                 "lost_revenue_per_month": lost * st.order_value},
                start, end, lambda pids=pids: pids))

        channels = at.channel.fillna("").to_numpy()
        chan_values = [c for c in pd.unique(channels) if c]
        if len(chan_values) >= 2:
            for c in chan_values:
                m = channels == c
                t = rate_test(at.exited[m].sum(), m.sum(), at.exited[~m].sum(), (~m).sum())
                if m.sum() >= MIN_N and (~m).sum() >= MIN_N:
                    add(t, {"channel": c}, mask=m)
        known = pd.notna(seg_at)
        segs = [s for s in pd.unique(seg_at[known])]
        if len(segs) >= 2:
            for s in segs:
                m = known & (seg_at == s)
                o = known & ~m
                if m.sum() >= MIN_N and o.sum() >= MIN_N:
                    add(rate_test(at.exited[m].sum(), m.sum(), at.exited[o].sum(), o.sum()), {"segment": s}, mask=m)
        for c in [None] + (chan_values if len(chan_values) >= 2 else []):
            m = np.ones(len(at), dtype=bool) if c is None else channels == c
            sub = at[m]
            k = np.bincount(sub.period, weights=sub.exited.astype(float), minlength=jf.periods)[:jf.scanned]
            n = np.bincount(sub.period, minlength=jf.periods)[:jf.scanned]
            w = scan_periods(k, n, min_n=MIN_N)
            if w is None:
                continue
            inside = m & (at.period >= w.start).to_numpy() & (at.period <= w.end).to_numpy()
            add(w.test, {"channel": c}, w.start, w.end, w.log_p, w.windows, mask=inside)
    return out


def long_checkout(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Segments whose completed checkouts go through more steps, and who leave more often."""
    out: list[Candidate] = []
    if st.stage is None or jf.segment.empty:
        return out
    per = st.events.groupby("pid").agg(steps=("touchpoint", "nunique"), last=("ts", "max"))
    conv = st.converted_at.reindex(per.index)
    per["converted"] = (conv >= per["last"]).to_numpy()
    per["segment"] = jf.segment.reindex(per.index).to_numpy()
    per = per[per.segment.notna()]
    for s in pd.unique(per.segment):
        m = (per.segment == s).to_numpy()
        done = per.converted.to_numpy()
        a, b = per.steps[m & done].to_numpy(), per.steps[~m & done].to_numpy()
        if len(a) < MIN_N or len(b) < MIN_N:
            continue
        log_p_steps, common = shift_test(a, b)
        left = rate_test((~done[m]).sum(), m.sum(), (~done[~m]).sum(), (~m).sum())
        extra = float(a.mean() - b.mean())
        ev = _rate_evidence(("checkout abandonment (no conversion after the stage's steps)", "abandon du tunnel (pas de conversion après ses étapes)"), left)
        ev.update({"steps_per_checkout": float(a.mean()), "steps_baseline": float(b.mean()),
                   "extra_steps": extra, "steps_test": "Mann-Whitney (one-sided)",
                   "steps_p_value": float(np.exp(log_p_steps)), "affected_customers": int(m.sum())})
        lost = max(left.difference, 0.0) * m.sum() / jf.months
        pids = per.index[m].to_numpy()
        out.append(Candidate(
            "long_checkout", _place(stage=st.stage, segment=s), max(log_p_steps, left.log_p),
            extra >= floors.extra_steps and left.difference >= floors.rate_difference, ev,
            {"affected_per_month": m.sum() / jf.months, "lost_conversions_per_month": lost,
             "lost_revenue_per_month": lost * st.order_value}, who=lambda pids=pids: pids))
    return out


def superfluous_steps(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Steps most checkouts pass through whose presence does not change conversion (TOST)."""
    out: list[Candidate] = []
    se = st.events
    if st.stage is None or se.empty:
        return out
    pid = se.pid.to_numpy()
    tps = se.touchpoint.to_numpy()
    prev = shifted(tps, pid, 1)
    reached = se.groupby("touchpoint").pid.nunique()
    for tp in st.touchpoints:
        before = pd.Series(prev[(tps == tp) & pd.notna(prev) & (prev != tp)])
        if before.empty:
            continue
        p = before.value_counts().index[0]
        if reached.get(tp, 0) < 0.5 * floors.pass_share * reached.get(p, 0):
            continue  # too few pass through it to be a step most journeys take
        # people who went past the slot of the step after p, through it or not (those who
        # left at p or right at the step are out: both groups have the same chance to leave)
        first_p = se[se.touchpoint == p].groupby("pid").ts.min()
        later = se.merge(first_p.rename("tp0"), left_on="pid", right_index=True)
        later = later[(later.ts > later.tp0) & (later.touchpoint != p)]
        saw = later[later.touchpoint == tp].groupby("pid").ts.min()
        later = later.merge(saw.rename("t_ts"), left_on="pid", right_index=True, how="left")
        beyond = later[(later.touchpoint != tp) & (later.t_ts.isna() | (later.ts > later.t_ts))]
        went_on = beyond.groupby("pid").t_ts.first().notna()
        if len(went_on) < 2 * MIN_N:
            continue
        conv = (st.converted_at.reindex(went_on.index) >= first_p.reindex(went_on.index)).to_numpy()
        with_t = went_on.to_numpy().astype(bool)
        n1, n0 = int(with_t.sum()), int((~with_t).sum())
        if n1 < MIN_N or n0 < MIN_N:
            continue
        k1, k0 = int(conv[with_t].sum()), int(conv[~with_t].sum())
        d, log_p_eq, _ = equivalence_test(k1, n1, k0, n0, floors.equivalence_margin)
        share = n1 / (n1 + n0)
        se_d = np.sqrt(max((k1 / n1) * (1 - k1 / n1) / n1 + (k0 / n0) * (1 - k0 / n0) / n0, 1e-12))
        ev = {"metric": f"conversion after {p}: passing the step vs not", "metric_fr": f"conversion après {p} : en passant par l'étape ou non", "value": k1 / n1,
              "baseline": k0 / n0, "effect": d, "interval": [d - 1.96 * se_d, d + 1.96 * se_d],
              "test": f"TOST equivalence within ±{floors.equivalence_margin:.0%}", "n": n1,
              "n_baseline": n0, "pass_share": share, "after": p, "affected_customers": n1}
        pids = went_on.index[with_t].to_numpy()
        out.append(Candidate(
            "superfluous_step", _place(stage=st.stage, touchpoint=tp), log_p_eq,
            share >= floors.pass_share, ev,
            {"affected_per_month": n1 / jf.months, "lost_conversions_per_month": 0.0,
             "lost_revenue_per_month": 0.0, "needless_steps_per_month": n1 / jf.months},
            who=lambda pids=pids: pids))
    return out


def audience_mismatch(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """First-touch channels that bring many people who go on much less than the others.

    Compared among people whose journey starts in the same (most common) first stage, on
    the share who reach any later stage: what the people brought do next, before any
    later friction can weigh on it.
    """
    ev = jf.events
    out: list[Candidate] = []
    if ev.empty:
        return out
    first = ev.groupby("pid").head(1).set_index("pid")
    furthest = ev.groupby("pid").stage_index.max().reindex(first.index).to_numpy()
    start_stage = _mode(first.stage.astype(object))
    same = (first.stage.astype(object) == start_stage).to_numpy()
    went_on = (furthest > first.stage_index.to_numpy())[same]
    converted = first.index[same].isin(st.converted_at.index)
    onward = float(converted[went_on].mean()) if went_on.any() else 0.0
    channel = first.channel.astype(object).fillna("").to_numpy()[same]
    pids_all = first.index[same].to_numpy()
    total = len(first)
    for c in [c for c in pd.unique(channel) if c]:
        m = channel == c
        if m.sum() < MIN_N or (~m).sum() < MIN_N:
            continue
        t = rate_test(went_on[m].sum(), m.sum(), went_on[~m].sum(), (~m).sum(), higher=False)
        share = m.sum() / total
        ok = (share >= floors.traffic_share and -t.difference >= floors.conversion_difference
              and t.rate <= floors.conversion_ratio * t.baseline)
        e = _rate_evidence((f"people first reached at {start_stage} who go on to a later stage", f"personnes arrivées en {start_stage} qui vont plus loin"), t)
        e.update({"traffic_share": share, "conversion": float(converted[m].mean()),
                  "conversion_baseline": float(converted[~m].mean()),
                  "baseline_is": "people first reached on other channels", "affected_customers": int(m.sum())})
        lost = max(-t.difference, 0.0) * m.sum() * onward / jf.months
        pids = pids_all[m]
        out.append(Candidate("audience_mismatch", _place(stage=start_stage, channel=c), t.log_p, ok, e,
                             {"affected_per_month": m.sum() / jf.months, "lost_conversions_per_month": lost,
                              "lost_revenue_per_month": lost * st.order_value}, who=lambda pids=pids: pids))
    return out


def loop_counts(jf: JourneyFrame, loop_min: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (pair of touchpoints, channel): people with an X, Y, X pass (n), with ``loop_min``+
    of them (loops); and the per-person counts behind it (``group`` numbers the pairs)."""
    ev = jf.events
    pid = ev.pid.to_numpy()
    names = np.asarray(ev.touchpoint.cat.categories, dtype=object)
    channels = np.append(np.asarray(ev.channel.cat.categories, dtype=object), "")
    tp = ev.touchpoint.cat.codes.to_numpy().astype(np.int64)  # -1: no touchpoint
    p1, p2 = shifted(tp, pid, 1, -1), shifted(tp, pid, 2, -1)
    trip = (tp >= 0) & (p1 >= 0) & (tp == p2) & (tp != p1)
    ch = ev.channel.cat.codes.to_numpy().astype(np.int64)[trip]
    t = pd.DataFrame({"pid": pid[trip], "a": np.minimum(tp[trip], p1[trip]), "b": np.maximum(tp[trip], p1[trip]),
                      "c": np.where(ch < 0, len(channels) - 1, ch)})
    per = t.groupby(["pid", "a", "b", "c"]).size().rename("k").reset_index()
    per["loop"] = per.k >= loop_min
    per["group"] = per.groupby(["a", "b", "c"]).ngroup()
    pairs = per.groupby("group").agg(a=("a", "first"), b=("b", "first"), c=("c", "first"),
                                     n=("loop", "size"), loops=("loop", "sum")).reset_index()
    pairs["a"], pairs["b"] = names[pairs.a.to_numpy()], names[pairs.b.to_numpy()]
    pairs["channel"] = channels[pairs.c.to_numpy()]
    return pairs.drop(columns="c"), per


def loops(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Pairs of touchpoints people go back and forth between (X, Y, X ...) far more than others."""
    ev = jf.events
    out: list[Candidate] = []
    if len(ev) < 3:
        return out
    pairs, per = loop_counts(jf, floors.loop_min)
    per["converted"] = np.isin(per.pid.to_numpy(), st.converted_at.index.to_numpy())
    conv = per.groupby(["group", "loop"]).converted.mean()
    by_channel = pairs.groupby("channel")[["n", "loops"]].sum()
    visitors = jf.touchpoint_table().visitors
    for r in pairs.itertuples(index=False):
        tot = by_channel.loc[r.channel]
        if r.n < MIN_N or tot.n - r.n < MIN_N:
            continue
        test = rate_test(r.loops, r.n, tot.loops - r.loops, tot.n - r.n)
        place_tp, other = (r.a, r.b) if visitors.get(r.a, 0) <= visitors.get(r.b, 0) else (r.b, r.a)
        ok = test.difference >= floors.loop_difference and (
            test.baseline == 0 or test.rate / test.baseline >= 2)
        e = _rate_evidence((f"share of people going back and forth {floors.loop_min}+ times",
                            f"part des personnes qui font {floors.loop_min} allers-retours ou plus"), test)
        e.update({"with": other, "baseline_is": "other pairs of touchpoints on the channel",
                  "affected_customers": int(r.loops)})
        c_loop, c_other = conv.get((r.group, True)), conv.get((r.group, False))
        e["conversion_loopers"], e["conversion_others_in_pair"] = c_loop, c_other
        drop = (c_other - c_loop) if c_loop is not None and c_other is not None else 0.0
        lost = max(drop, 0.0) * r.loops / jf.months
        stage = jf.touchpoint_table().stage.get(place_tp)

        def who(group=r.group):
            return per.pid[(per.group == group) & per.loop].to_numpy()

        out.append(Candidate("loop", _place(stage=stage, touchpoint=place_tp, channel=r.channel or None),
                             test.log_p, ok, e,
                             {"affected_per_month": r.loops / jf.months, "lost_conversions_per_month": lost,
                              "lost_revenue_per_month": lost * st.order_value}, who=who))
    return out


def silos(jf: JourneyFrame, st: Steps, floors: Floors, contacts=("support_contact", "complaint")) -> list[Candidate]:
    """Contacts about one matter followed, within days, by a contact where it starts again.

    A repeat is the next contact on the same matter within the window that opens a new
    ticket (when tickets are known), else that comes through another channel.
    """
    ev = jf.events
    out: list[Candidate] = []
    c = ev[ev.event.isin(contacts)][["pid", "ts", "channel", "stage", "matter", "ticket"]].copy()
    if len(c) < 2 * MIN_N:
        return out
    c["matter"] = c.matter.astype(object).fillna("")
    c["channel"] = c.channel.astype(object).fillna("")
    c = c.sort_values(["pid", "matter", "ts"], kind="stable")
    g = c.groupby(["pid", "matter"], sort=False)
    window = pd.Timedelta(days=floors.silo_window_days)
    prev_ts, next_ts = g.ts.shift(1), g.ts.shift(-1)
    next_ch, next_tk = g.channel.shift(-1), g.ticket.shift(-1)
    start = ~((c.ts - prev_ts) <= window).to_numpy()
    soon = ((next_ts - c.ts) <= window).to_numpy()
    known = c.ticket.notna().to_numpy() & next_tk.notna().to_numpy()
    again = np.where(known, (c.ticket != next_tk).to_numpy(), (c.channel != next_ch).to_numpy())
    c["repeat"] = soon & again
    starts = c[start]
    ch = starts.channel.to_numpy()
    rep = starts.repeat.to_numpy()
    for value in [v for v in pd.unique(ch) if v]:
        m = ch == value
        if m.sum() < MIN_N or (~m).sum() < MIN_N:
            continue
        t = rate_test(rep[m].sum(), m.sum(), rep[~m].sum(), (~m).sum())
        e = _rate_evidence((f"contacts followed within {floors.silo_window_days:g} days by a new contact on the same matter",
                            f"contacts suivis sous {floors.silo_window_days:g} jours d'un nouveau contact sur le même sujet"), t)
        e.update({"baseline_is": "contacts started on other channels", "affected_customers": int(
            starts.pid[m & rep].nunique())})
        stage = _mode(starts.stage[m].astype(object))
        pids = starts.pid[m & rep].unique()
        out.append(Candidate("silo", _place(stage=stage, channel=value), t.log_p, _ratio_ok(t, floors), e,
                             {"affected_per_month": len(pids) / jf.months, "lost_conversions_per_month": 0.0,
                              "lost_revenue_per_month": 0.0,
                              "extra_contacts_per_month": max(t.difference, 0) * m.sum() / jf.months},
                             who=lambda pids=pids: pids))
    return out


def price_inconsistency(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Channels where a share of the products is shown at another price than elsewhere."""
    ev = jf.events
    out: list[Candidate] = []
    pe = ev[ev["product"].notna() & ev["price"].notna() & ev["channel"].notna()][["pid", "product", "channel", "price", "event"]]
    pe = pe.assign(channel=pe.channel.astype(object))
    chans = pd.unique(pe.channel)
    if len(chans) < 2:
        return out
    cell = pe.groupby(["product", "channel"], observed=True).price.agg(["median", "size"]).reset_index()
    cell["product"] = cell["product"].astype(object)
    for c in chans:
        mine = cell[cell.channel == c].set_index("product")["median"]
        # the reference price: the product's median on its most used other channel
        others = (cell[cell.channel != c].sort_values("size", ascending=False, kind="stable")
                  .drop_duplicates("product").set_index("product")["median"])
        both = pd.concat([mine.rename("p"), others.rename("ref")], axis=1).dropna()
        both = both[both.ref > 0]
        if len(both) < MIN_N:
            continue
        gap = both.p / both.ref - 1
        differ = (gap.abs() > floors.price_gap).to_numpy()
        k, n = int(differ.sum()), len(both)
        log_p = float(stats.binom.logsf(k - 1, n, floors.price_gap)) if k else 0.0
        bad = set(both.index[differ])
        buyers = pe[(pe.channel == c) & pe.event.isin(jf.conversions)]
        buyers = buyers[buyers["product"].astype(object).isin(bad)]
        pids = buyers.pid.unique()
        e = {"metric": "share of products priced differently from the other channels", "metric_fr": "part des produits à un autre prix que sur les autres canaux", "value": k / n,
             "baseline": floors.price_gap, "effect": k / n - floors.price_gap,
             "interval": list(stats.binomtest(k, n).proportion_ci()) if n else None,
             "test": f"binomial (one-sided) against a tolerance of {floors.price_gap:.0%}", "n": n,
             "median_gap": float(gap[differ].median()) if k else 0.0,
             "examples": [{"product": p, "price": float(both.p[p]), "elsewhere": float(both.ref[p])}
                          for p in list(both.index[differ])[:3]],
             "affected_customers": len(pids)}
        out.append(Candidate("price_inconsistency", _place(stage=st.stage, channel=c), log_p,
                             k / n >= floors.price_share, e,
                             {"affected_per_month": len(pids) / jf.months, "lost_conversions_per_month": 0.0,
                              "lost_revenue_per_month": 0.0}, who=lambda pids=pids: pids))
    return out


def negative_feedback(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Touchpoints (and channels) whose answers are negative far more often than the rest."""
    fb = jf.feedback[jf.feedback.score.notna()]
    out: list[Candidate] = []
    stage_of = jf.touchpoint_table().stage
    for kind, rows in fb.groupby("kind"):
        place = rows.touchpoint.fillna("").astype(str) + "\x00" + rows.channel.fillna("").astype(str)
        neg = rows.negative.to_numpy()
        for value in pd.unique(place):
            m = (place == value).to_numpy()
            if m.sum() < MIN_N or (~m).sum() < MIN_N:
                continue
            t = rate_test(neg[m].sum(), m.sum(), neg[~m].sum(), (~m).sum())
            tp, ch = value.split("\x00")
            e = _rate_evidence((f"share of negative {kind} answers", f"part de réponses {kind} négatives"), t)
            e.update({"baseline_is": f"{kind} answers elsewhere", "mean_score": float(rows.score[m].mean()),
                      "mean_score_baseline": float(rows.score[~m].mean())})
            pids = rows.pid[m & neg].to_numpy()
            pids = pids[pids >= 0]
            e["affected_customers"] = int(len(np.unique(pids)))
            ok = t.difference >= floors.feedback_difference and (
                t.baseline == 0 or t.rate / t.baseline >= floors.rate_ratio)
            out.append(Candidate("negative_feedback",
                                 _place(stage=stage_of.get(tp) if tp else None, touchpoint=tp or None,
                                        channel=ch or None), t.log_p, ok, e,
                                 {"affected_per_month": int(neg[m].sum()) / jf.months,
                                  "lost_conversions_per_month": 0.0, "lost_revenue_per_month": 0.0,
                                  "excess_negative_answers_per_month": max(t.difference, 0) * m.sum() / jf.months},
                                 who=lambda pids=pids: pids))
    return out


def slowness(jf: JourneyFrame, st: Steps, floors: Floors) -> list[Candidate]:
    """Waits after an order (delivery, refund, support) that grow long during some weeks.

    The wait of an event after the conversion stage is the time since the person's latest
    order (an event with a positive value) before it; a wait is slow above the place's
    usual 75th percentile, and the share of slow waits is scanned over weeks.
    """
    ev = jf.events
    out: list[Candidate] = []
    if st.stage is None or ev.empty:
        return out
    order_rank = ev.stage_index[ev.stage == st.stage].min()
    pid = ev.pid.to_numpy()
    order_ts = ev.ts.where(ev.value > 0)
    last_order = order_ts.groupby(pid).ffill().groupby(pid).shift(1)
    wait = (ev.ts - last_order).dt.total_seconds().to_numpy() / 86400
    after = (ev.stage_index > order_rank).to_numpy() & ~np.isnan(wait)
    w = pd.DataFrame({"pid": pid[after], "event": ev.event.astype(object).to_numpy()[after],
                      "channel": ev.channel.astype(object).fillna("").to_numpy()[after],
                      "stage": ev.stage.astype(object).to_numpy()[after], "wait": wait[after],
                      "period": jf.period_of(ev.ts[after])})
    for (event, channel), rows in w.groupby(["event", "channel"]):
        if len(rows) < 4 * MIN_N:
            continue
        usual = float(np.quantile(rows.wait, 0.75))
        if usual <= 0 or np.median(rows.wait) > floors.wait_days:
            continue  # not a wait for the order (app opens weeks later are not delivery times)
        slow = (rows.wait > usual).to_numpy()
        k = np.bincount(rows.period, weights=slow.astype(float), minlength=jf.periods)[:jf.scanned]
        n = np.bincount(rows.period, minlength=jf.periods)[:jf.scanned]
        win = scan_periods(k, n, min_n=MIN_N)
        if win is None:
            continue
        inside = ((rows.period >= win.start) & (rows.period <= win.end)).to_numpy()
        med_in, med_out = float(np.median(rows.wait[inside])), float(np.median(rows.wait[~inside]))
        ok = (win.test.difference >= floors.slow_difference
              and med_in >= floors.slow_ratio * max(med_out, 1e-9))
        e = _rate_evidence((f"share of waits after the order above the usual {usual:.1f} days", f"part des attentes après la commande au-delà des {usual:.1f} jours habituels"), win.test,
                           f"two-proportion z, scan of {win.windows} windows of weeks (Bonferroni)")
        e.update({"median_wait_days": med_in, "median_wait_days_baseline": med_out,
                  "baseline_is": "the same event in the other weeks", "affected_customers": int(inside.sum())})
        pids = rows.pid[inside & slow].unique()
        months = jf.window_months(win.start, win.end)
        out.append(Candidate("slowness", _place(stage=_mode(rows.stage), event=event, channel=channel or None),
                             win.log_p, ok, e,
                             {"affected_per_month": inside.sum() / months, "lost_conversions_per_month": 0.0,
                              "lost_revenue_per_month": 0.0}, win.start, win.end, who=lambda pids=pids: pids))
    return out


DETECTORS = (step_exits, long_checkout, superfluous_steps, audience_mismatch, loops, silos,
             price_inconsistency, negative_feedback, slowness)
