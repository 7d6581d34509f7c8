"""Simulation of one chunk of people, vectorised with numpy (no per-event Python loop).

A chunk is simulated from its own random stream ``default_rng([seed, chunk_index])`` so the
output does not depend on how chunks are scheduled. Times are int64 seconds since the epoch,
UTC. Every event is a row of parallel arrays (codes into the tables of :mod:`world`); the
writer turns codes into strings and optional fields into the ``properties`` JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import texts as T
from . import world as W
from .frictions import Friction

DAY = 86_400
HOUR = 3_600
EV = W.EV
CH = W.CH
NO = -1

# int fields default to -1 (absent), float fields to NaN
INT_FIELDS = {"ch": np.int16, "tp": np.int32, "product": np.int32, "order": np.int64, "session": np.int64,
              "campaign": np.int16, "qty": np.int32, "points": np.int32, "balance": np.int32, "tier": np.int8,
              "ticket": np.int64, "matter": np.int8, "step": np.int8, "device": np.int8}
FLOAT_FIELDS = ("value", "price", "ship")

ONLINE = (CH["web"], CH["app"])
IDENTIFYING_EVENTS = [EV[e] for e in ("newsletter_signup", "account_created", "purchase", "payment",
                                       "email_open", "email_click", "support_contact", "complaint")]
IDENTIFYING_CHANNELS = [CH[c] for c in ("store", "phone", "chat")]


class Buf:
    """Event rows collected as blocks of parallel arrays."""

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, pid, t, ev, **kw):
        pid = np.asarray(pid)
        n = len(pid)
        if n == 0:
            return
        part = {"pid": pid.astype(np.int64), "t": np.broadcast_to(np.asarray(t, dtype=np.int64), (n,)),
                "ev": np.broadcast_to(np.asarray(ev, dtype=np.int16), (n,))}
        for k, v in kw.items():
            part[k] = np.broadcast_to(np.asarray(v), (n,))
        self.parts.append(part)

    def build(self) -> dict:
        out = {}
        for k in ("pid", "t", "ev"):
            out[k] = np.concatenate([p[k] for p in self.parts]) if self.parts else np.empty(0, np.int64)
        for k, dtype in INT_FIELDS.items():
            out[k] = np.concatenate([p[k].astype(dtype) if k in p else np.full(len(p["pid"]), NO, dtype)
                                     for p in self.parts]) if self.parts else np.empty(0, dtype)
        for k in FLOAT_FIELDS:
            out[k] = np.concatenate([p[k].astype(float) if k in p else np.full(len(p["pid"]), np.nan)
                                     for p in self.parts]) if self.parts else np.empty(0)
        return out


@dataclass
class Ctx:
    seed: int
    start_ts: int
    end_ts: int
    days: int
    cal: dict
    frictions: list[Friction]
    catalogue: W.Catalogue
    verbatims: T.Verbatims
    locale: str
    day_p: np.ndarray
    inconsistent_products: np.ndarray  # bool per product (price_inconsistency)
    month_of_day: np.ndarray
    season_of_day: np.ndarray


@dataclass
class Effect:
    metric: str
    a_num: float = 0.0
    a_den: float = 0.0
    o_num: float = 0.0
    o_den: float = 0.0

    def add(self, values: np.ndarray, affected: np.ndarray, among: np.ndarray | None = None):
        values = np.asarray(values, dtype=float)
        affected = np.asarray(affected, dtype=bool)
        if among is not None:
            values, affected = values[among], affected[among]
        self.a_num += float(values[affected].sum())
        self.a_den += float(affected.sum())
        self.o_num += float(values[~affected].sum())
        self.o_den += float((~affected).sum())

    def to_dict(self) -> dict:
        a = self.a_num / self.a_den if self.a_den else None
        o = self.o_num / self.o_den if self.o_den else None
        return {"metric": self.metric, "affected": None if a is None else round(a, 4),
                "others": None if o is None else round(o, 4),
                "difference": None if a is None or o is None else round(a - o, 4),
                "n_affected": int(self.a_den), "n_others": int(self.o_den)}


@dataclass
class ChunkOut:
    events: dict
    persons: dict
    feedback: dict
    affected: dict  # friction id -> local person indices
    spend_counts: np.ndarray
    stats: dict = field(default_factory=dict)


def quota(rng, mask: np.ndarray, p: float) -> np.ndarray:
    """Exactly round(p * mask.sum()) members of mask, chosen at random."""
    idx = np.nonzero(mask)[0]
    out = np.zeros(len(mask), dtype=bool)
    k = int(round(p * len(idx)))
    if k:
        out[rng.choice(idx, k, replace=False)] = True
    return out


def expand(idx: np.ndarray, k: np.ndarray):
    """Repeat each index k times; also return the rank within its group."""
    k = np.asarray(k, dtype=np.int64)
    rep = np.repeat(idx, k)
    starts = np.cumsum(k) - k
    rank = np.arange(len(rep)) - np.repeat(starts, k)
    return rep, rank


# -- friction matching -------------------------------------------------------------------

def _day_ts(d) -> int:
    import datetime as dt
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp())


def match(fr: Friction, seg, prof, chan, t, use_channel: bool = True) -> np.ndarray:
    """People (or rows) a friction applies to: segment/profile, channel and time window."""
    n = len(t)
    m = np.ones(n, dtype=bool)
    segs = fr.values("segment")
    if segs:
        sm = np.zeros(n, dtype=bool)
        for s in segs:
            if s in W.SEGMENTS:
                sm |= seg == W.SEGMENTS.index(s)
            elif s in W.PROFILES:
                sm |= prof == W.PROFILES.index(s)
        m &= sm
    chans = fr.values("channel")
    if chans and use_channel:
        m &= np.isin(chan, [CH[c] for c in chans if c in CH])
    if fr.when is not None:
        lo, hi = _day_ts(fr.when[0]), _day_ts(fr.when[1]) + DAY
        m &= (t >= lo) & (t < hi)
    return m


def location(fr: Friction) -> tuple[str, int]:
    """Where in the journey a drop_off-like friction acts: ('A'|'B'|'C'|'R', checkout step)."""
    tps = fr.values("touchpoint")
    evs = fr.values("event")
    for tp in tps:
        if tp in W.CHECKOUT_STEPS:
            return "C", W.CHECKOUT_STEPS.index(tp)
    step_of_event = {"add_to_cart": 0, "checkout_start": 1, "account_created": 3, "payment": 4, "purchase": 4}
    for e in evs:
        if e in step_of_event:
            return "C", step_of_event[e]
    stages = fr.values("stage") + [W.STAGE_OF[e] for e in evs if e in W.STAGE_OF]
    if "awareness" in stages:
        return "A", 0
    if "consideration" in stages or set(tps) & {"product_page", "home", "reviews", "comparator", "landing_page"}:
        return "B", 0
    if "purchase" in stages:
        return "C", 0
    if "retention" in stages or "advocacy" in stages:
        return "R", 0
    chans = fr.values("channel")
    if chans and all(c in ("search", "social", "email") for c in chans):
        return "A", 0
    return "B", 0


# -- the simulation ----------------------------------------------------------------------

def simulate(ci: int, n: int, ctx: Ctx) -> ChunkOut:
    rng = np.random.default_rng([ctx.seed, ci])
    cal, cat, F = ctx.cal, ctx.catalogue, ctx.frictions
    end = ctx.end_ts
    buf = Buf()
    session_base = ci * 100_000_000
    next_session = [session_base]

    def sessions(k):
        s = np.arange(next_session[0], next_session[0] + k, dtype=np.int64)
        next_session[0] += k
        return s

    effects: dict[str, Effect] = {}
    affected: dict[str, np.ndarray] = {}

    def mark(fr, persons_mask):
        affected[fr.id] = np.union1d(affected.get(fr.id, np.empty(0, np.int64)), np.nonzero(persons_mask)[0])

    def eff(fr, metric) -> Effect:
        return effects.setdefault((fr.id, metric), Effect(metric))

    # people ---------------------------------------------------------------------------
    seg = (rng.random(n) < cal["b2b_share"]).astype(np.int8)
    b2b = seg == 1
    prof = rng.choice(len(W.PROFILES), n, p=W.PROFILE_P).astype(np.int8)
    acq_p = W.ACQ_P.copy()
    for fr in F:
        if fr.kind == "audience_mismatch":
            for c in fr.values("channel"):
                if c in W.ACQ:
                    acq_p[W.ACQ.index(c)] *= 1 + 2 * fr.strength
    acq = W.ACQ_CODES[rng.choice(len(W.ACQ), n, p=acq_p / acq_p.sum())]
    app_user = rng.random(n) < 0.35
    prim = np.where(app_user, CH["app"], CH["web"]).astype(np.int16)
    dev1 = np.where(app_user, 0, rng.choice(3, n, p=[0.55, 0.38, 0.07])).astype(np.int8)
    dev2 = np.where(dev1 == 1, 0, 1).astype(np.int8)
    multi = rng.random(n) < 0.3
    country = rng.choice(len(W.COUNTRIES), n, p=W.COUNTRY_P)
    age = rng.choice(len(W.AGE_BANDS), n, p=W.AGE_P)
    gender = rng.choice(len(W.GENDERS), n, p=W.GENDER_P)
    city = rng.choice(len(W.CITY_SIZES), n, p=W.CITY_P)
    consent_email = rng.random(n) < 0.62
    consent_sms = rng.random(n) < 0.35
    store_of = rng.integers(0, len(W.STORES), n)
    main_cat = np.empty(n, dtype=np.int64)
    for p in range(len(W.PROFILES)):
        m = prof == p
        main_cat[m] = rng.choice(len(W.CATEGORIES), int(m.sum()), p=W.PROFILE_CATEGORY_P[p])
    main_prod = cat.pick(rng, main_cat)

    day = rng.choice(len(ctx.day_p), n, p=ctx.day_p)
    hour = rng.choice(24, n, p=W.HOUR_P)
    t0 = ctx.start_ts + day * DAY + hour * HOUR - HOUR + rng.integers(0, HOUR, n)
    t0 = np.maximum(t0, ctx.start_ts)
    slow_b2b = np.where(b2b, 4.0, 1.0)  # B2B: longer consideration (documented, not a friction)
    t_c = t0 + np.minimum(rng.exponential(0.5 * DAY * slow_b2b), 10 * DAY).astype(np.int64) + 300
    t_p = t_c + np.minimum(rng.exponential(1.5 * DAY * slow_b2b), 15 * DAY).astype(np.int64) + 600

    # stage progression ----------------------------------------------------------------
    aware = rng.random(n) >= cal["direct_share"]
    # friction multipliers first; the base rate is then set so that the whole population still
    # meets the calibration (frictions make the affected stand out, not the totals move)
    pA = np.ones(n)
    pB = np.ones(n)
    loopers = {}
    for fr in F:
        s = fr.strength
        if fr.kind in ("drop_off", "audience_mismatch"):
            loc, _ = location(fr) if fr.kind == "drop_off" else ("AB", 0)
            if "A" in loc:
                m = match(fr, seg, prof, acq, t0) & aware
                pA[m] *= 1 - s
                mark(fr, m)
            if "B" in loc:
                chan = acq if fr.kind == "audience_mismatch" else prim
                m = match(fr, seg, prof, chan, t_c)
                pB[m] *= 1 - s
                mark(fr, m)
        elif fr.kind == "loop":
            m = match(fr, seg, prof, prim, t_c) & (rng.random(n) < 0.5 + 0.5 * s)
            loopers[fr.id] = m
            pB[m] *= 1 - 0.3 * s
    pA *= (1 - cal["awareness_abandonment"]) / max(pA[aware].mean() if aware.any() else 1.0, 1e-9)
    reach_c = ~aware | (rng.random(n) < np.minimum(pA, 1.0))
    pB *= (1 - cal["consideration_abandonment"]) / max(pB[reach_c].mean() if reach_c.any() else 1.0, 1e-9)
    reach_p = reach_c & (rng.random(n) < np.minimum(pB, 1.0))
    for fr in F:
        if fr.kind in ("drop_off", "audience_mismatch"):
            loc = location(fr)[0] if fr.kind == "drop_off" else "AB"
            chan_a = acq
            if "A" in loc:
                m = match(fr, seg, prof, chan_a, t0)
                eff(fr, "awareness->consideration conversion").add(reach_c, m, aware)
            if "B" in loc:
                chan = acq if fr.kind == "audience_mismatch" else prim
                m = match(fr, seg, prof, chan, t_c)
                eff(fr, "consideration->purchase conversion").add(reach_p, m, reach_c)
        elif fr.kind == "loop":
            lm = loopers[fr.id] & reach_c
            mark(fr, lm)
            eff(fr, "consideration->purchase conversion").add(reach_p, lm, reach_c)

    store_ck = reach_p & (rng.random(n) < 0.15)
    ck_ch = np.where(store_ck, CH["store"], prim).astype(np.int16)
    online = reach_p & ~store_ck

    # online checkout: last step reached (0 cart .. 4 payment page, 5 bought) and reasons
    stop = np.full(n, -1, dtype=np.int8)
    stop[online] = 5
    abandon_base = online & (rng.random(n) < cal["cart_abandonment"])
    reasons = np.zeros((n, 4), dtype=bool)  # shipping_fees, account_forced, checkout_long, payment_issue
    rs = cal["abandon_reasons"]
    reasons[:, 0] = quota(rng, abandon_base, rs["shipping_fees"])
    reasons[:, 1] = quota(rng, abandon_base, rs["account_forced"])
    reasons[:, 2] = quota(rng, abandon_base, rs["checkout_long"])
    st = np.where(reasons[:, 0], 2, np.where(reasons[:, 1], 3, np.where(reasons[:, 2], 4, rng.integers(0, 2, n))))
    stop[abandon_base] = st[abandon_base]
    surprise = np.zeros(n, dtype=bool)
    forced = np.zeros(n, dtype=bool)
    long_ck = np.zeros(n, dtype=bool)
    extra_steps = np.zeros(n, dtype=np.int64)
    superfluous: list[tuple[Friction, np.ndarray, int]] = []
    ck_frictions = []
    for fr in F:
        if fr.kind in ("surprise_cost", "forced_account", "long_checkout") or (
                fr.kind == "drop_off" and location(fr)[0] == "C"):
            step = {"surprise_cost": 2, "forced_account": 3, "long_checkout": 3}.get(fr.kind) or location(fr)[1]
            ck_frictions.append((step, fr))
    ck_frictions.sort(key=lambda x: x[0])
    reason_of = {"surprise_cost": 0, "forced_account": 1, "long_checkout": 2}
    ck_elig = []
    for step, fr in ck_frictions:
        m = online & match(fr, seg, prof, ck_ch, t_p)
        elig = online & (stop >= step)
        reached = m & elig
        ck_elig.append((fr, elig, reached))
        mark(fr, reached)
        if fr.kind == "surprise_cost":
            surprise |= reached
        elif fr.kind == "forced_account":
            forced |= reached
        elif fr.kind == "long_checkout":
            long_ck |= reached
            extra_steps[reached] = np.maximum(extra_steps[reached], 2 + int(round(4 * fr.strength)))
        drop = reached & (stop > step) & (rng.random(n) < fr.strength)
        stop[drop] = step
        r = reason_of.get(fr.kind, 3 if step == 4 else None)
        if r is not None:
            reasons[drop, r] = True
    bought_online = online & (stop == 5)
    for fr, elig, reached in ck_elig:
        eff(fr, "checkout abandonment among carts that reached the step").add(~bought_online, reached, elig)
    for fr in F:
        if fr.kind == "superfluous_step":
            m = online & match(fr, seg, prof, ck_ch, t_p) & (stop >= 1) & (rng.random(n) < 0.5 + 0.5 * fr.strength)
            superfluous.append((fr, m, 1))
            mark(fr, m)
            eff(fr, "purchase after checkout start (with the step vs without)").add(bought_online, m, online & (stop >= 1))
    bought = store_ck | bought_online
    account = online & (stop >= 4) & (b2b | forced | (rng.random(n) < 0.5))
    member = account | (store_ck & (rng.random(n) < 0.7)) | (bought & b2b)
    news = reach_c & (rng.random(n) < 0.22)

    # awareness events -----------------------------------------------------------------
    idx = np.nonzero(aware)[0]
    k = 1 + np.minimum(rng.poisson(0.8, len(idx)), 4)
    pid, rank = expand(idx, k)
    ac = acq[pid]
    u = rng.random(len(pid))
    ev = np.full(len(pid), EV["search"], dtype=np.int16)
    is_search = ac == CH["search"]
    is_social = ac == CH["social"]
    is_email = ac == CH["email"]
    ev[is_search & (u < 0.45)] = EV["ad_impression"]
    ev[is_search & (u >= 0.8)] = EV["ad_click"]
    ev[is_social] = np.where(u[is_social] < 0.5, EV["social_view"],
                             np.where(u[is_social] < 0.85, EV["ad_impression"], EV["ad_click"]))
    ev[is_email] = np.where(u[is_email] < 0.8, EV["ad_impression"], EV["ad_click"])
    chan = np.where(is_social, CH["social"], np.where(is_email, CH["email"], CH["search"])).astype(np.int16)
    t = t0[pid] + np.where(rank == 0, 0, rng.integers(60, 3 * HOUR, len(pid)))
    d = np.clip((t - ctx.start_ts) // DAY, 0, ctx.days - 1)
    season = ctx.season_of_day[d]
    camp_ch = np.where(is_social, 1, np.where(is_email, 2, 0))
    campaign = (camp_ch * len(W.SEASONS) + season).astype(np.int16)
    is_ad = (ev == EV["ad_impression"]) | (ev == EV["ad_click"])
    tp = np.where(is_ad, W.TP[W.CAMPAIGNS[0]] + campaign,
                  np.where(ev == EV["social_view"], W.TP["instagram"] + rng.integers(0, 3, len(pid)), W.TP["google"]))
    buf.add(pid, t, ev, ch=chan, tp=tp, campaign=np.where(is_ad, campaign, NO), device=0)

    # consideration: first visit ------------------------------------------------------
    idx = np.nonzero(reach_c)[0]
    m_c = len(idx)
    sess = sessions(m_c)
    sess_of = np.full(n, NO, dtype=np.int64)
    sess_of[idx] = sess
    gap = (40 + rng.exponential(40, n)) * np.where(b2b, 2.0, 1.0)
    ch_c = prim[idx]
    landing = np.where(aware[idx] & np.isin(acq[idx], [CH["search"], CH["social"]]), W.TP["landing_page"], W.TP["home"])
    buf.add(idx, t_c[idx], EV["page_view"], ch=ch_c, tp=landing, session=sess, device=0)
    kp = 1 + np.minimum(rng.poisson(1.2 + 0.8 * b2b[idx]), 6)
    pid, rank = expand(idx, kp)
    prod = np.where(rank == 0, main_prod[pid], rng.integers(0, W.N_PRODUCTS, len(pid)))
    buf.add(pid, t_c[pid] + ((1 + rank) * gap[pid]).astype(np.int64), EV["product_view"], ch=prim[pid],
            tp=W.TP["product_page"], session=sess_of[pid], product=prod, price=cat.price[prod], device=0)
    slot = 1 + kp
    rr = rng.random(m_c) < 0.35 + 0.15 * (prof[idx] == 1)
    cmp_ = rng.random(m_c) < 0.2 + 0.2 * (prof[idx] == 0)
    for mask, e, tpn in ((rr, "review_read", "reviews"), (cmp_, "compare", "comparator"),
                         (news[idx], "newsletter_signup", "newsletter_popup")):
        j = idx[mask]
        buf.add(j, t_c[j] + (slot[mask] * gap[j]).astype(np.int64), EV[e], ch=prim[j], tp=W.TP[tpn],
                session=sess_of[j], product=main_prod[j] if e != "newsletter_signup" else NO, device=0)
        slot = slot + mask
    # loops: back and forth between two touchpoints during the first visit
    for fr in F:
        if fr.kind != "loop":
            continue
        lm = loopers[fr.id] & reach_c
        tps = fr.values("touchpoint") or ["size_guide"]
        other = fr.params.get("with", "product_page")
        j = np.nonzero(lm)[0]
        kl = 2 * (2 + rng.integers(0, 1 + int(round(3 * fr.strength)), len(j)))
        pid, rank = expand(j, kl)
        tpa = np.where(rank % 2 == 0, W.tp_code(tps[0]), W.tp_code(other))
        eva = np.where(tpa == W.TP["product_page"], EV["product_view"], EV["page_view"])
        buf.add(pid, t_c[pid] + ((slot[np.searchsorted(idx, pid)] + rank) * gap[pid]).astype(np.int64), eva,
                ch=prim[pid], tp=tpa, session=sess_of[pid], product=main_prod[pid], device=0)
        lp = np.zeros(n)
        np.add.at(lp, pid, 1)
        eff(fr, f"{tps[0]} <-> {other} back-and-forth views per visitor").add(lp, lm, reach_c)

    # newsletter e-mails
    idx = np.nonzero(news)[0]
    k = rng.poisson(3, len(idx))
    pid, _ = expand(idx, k)
    t = t_c[pid] + rng.integers(DAY, 120 * DAY, len(pid))
    d = np.clip((t - ctx.start_ts) // DAY, 0, ctx.days - 1)
    camp = (2 * len(W.SEASONS) + ctx.season_of_day[d]).astype(np.int16)
    buf.add(pid, t, EV["email_open"], ch=CH["email"], tp=W.TP[W.CAMPAIGNS[0]] + camp, campaign=camp)
    cl = rng.random(len(pid)) < 0.3
    buf.add(pid[cl], t[cl] + 300, EV["email_click"], ch=CH["email"], tp=W.TP[W.CAMPAIGNS[0]] + camp[cl],
            campaign=camp[cl])

    # checkout session (online) -------------------------------------------------------
    idx = np.nonzero(online)[0]
    ck_sess = sessions(len(idx))
    sess_of[idx] = ck_sess
    g = (30 + rng.exponential(30, n)).astype(np.int64)
    qty = np.where(b2b, rng.integers(2, 11, n), np.where(rng.random(n) < 0.15, 2, 1))
    unit = cat.price[main_prod]
    items = np.round(unit * qty, 2)
    ship = np.where(items >= 50, 0.0, 4.99)
    ship = np.where(surprise, 9.99, ship)
    total = np.round(items + ship, 2)
    common = dict(ch=ck_ch[idx], session=ck_sess, device=0)
    off = np.zeros(n, dtype=np.int64)
    buf.add(idx, t_p[idx], EV["add_to_cart"], tp=W.TP["cart"], product=main_prod[idx], price=unit[idx],
            qty=qty[idx], **common)
    off[idx] = g[idx]

    def step_event(mask_n, e, tpname, **kw):
        j = np.nonzero(mask_n)[0]
        pos = np.searchsorted(idx, j)
        buf.add(j, t_p[j] + off[j], EV[e], tp=W.TP[tpname] if isinstance(tpname, str) else tpname,
                ch=ck_ch[j], session=ck_sess[pos], device=0, **{k2: v[j] if isinstance(v, np.ndarray) and len(v) == n else v
                                                                  for k2, v in kw.items()})
        off[j] += g[j]

    step_event(online & (stop >= 1), "checkout_start", "checkout", step=1)
    for fr, m, _ in superfluous:
        tps = fr.values("touchpoint") or ["insurance_offer"]
        step_event(m, "page_view", W.tp_code(tps[0]))
    step_event(online & (stop >= 2), "page_view", "shipping_options", ship=ship, step=2)
    step_event(online & (stop >= 3), "page_view", "account_form", step=3)
    step_event(account, "account_created", "account_form", step=3)
    for j in range(int(extra_steps.max()) if len(extra_steps) else 0):
        step_event(online & (stop >= 3) & (extra_steps > j) & ((stop >= 4) | (rng.random(n) < 0.7)),
                   "page_view", W.TP[W.EXTRA_STEPS[j % len(W.EXTRA_STEPS)]], step=4 + j)
    step_event(online & (stop == 4), "page_view", "payment_page", step=9)
    step_event(bought_online, "payment", "payment_page", value=total, step=9)
    t_buy = np.where(bought_online, t_p + off, t_p)

    # store purchases (often after a web visit: channel switch)
    idx_s = np.nonzero(store_ck)[0]
    stp = W.TP[W.STORES[0]] + store_of[idx_s]
    store_price = unit.copy()
    price_inc = np.zeros(n, dtype=bool)
    for fr in F:
        if fr.kind == "price_inconsistency":
            chans = fr.values("channel") or ["store"]
            if "store" in chans:
                m = store_ck & ctx.inconsistent_products[main_prod] & match(fr, seg, prof, ck_ch, t_p, use_channel=False)
                delta = fr.params.get("delta", 0.12)
                store_price = np.where(m, np.round(unit * (1 + delta)) - 0.01, store_price)
                price_inc |= m
                mark(fr, m)
    s_items = np.round(store_price * qty, 2)
    total = np.where(store_ck, s_items, total)
    ship = np.where(store_ck, 0.0, ship)
    buf.add(idx_s, t_p[idx_s], EV["product_view"], ch=CH["store"], tp=stp, product=main_prod[idx_s],
            price=store_price[idx_s])
    buf.add(idx_s, t_p[idx_s] + 600, EV["payment"], ch=CH["store"], tp=stp, value=total[idx_s])
    t_buy = np.where(store_ck, t_p + 660, t_buy)

    # orders ---------------------------------------------------------------------------
    p_rep = np.where(b2b, min(0.95, cal["repeat_purchase"] * 1.4), cal["repeat_purchase"])
    churn_r = np.zeros(n)
    for fr in F:
        if fr.kind == "drop_off" and location(fr)[0] == "R":
            m = bought & match(fr, seg, prof, ck_ch, t_buy)
            churn_r[m] = np.maximum(churn_r[m], fr.strength)
            mark(fr, m)
    n_rep = np.zeros(n, dtype=np.int64)
    alive = bought & (rng.random(n) < p_rep * (1 - churn_r))
    for r in range(5):
        n_rep += alive
        alive = alive & (rng.random(n) < 0.5)
    for fr in F:
        if fr.kind == "drop_off" and location(fr)[0] == "R":
            eff(fr, "repeat purchase rate").add(n_rep > 0, churn_r > 0, bought)
    bidx = np.nonzero(bought)[0]
    o_pid, o_rank = expand(bidx, 1 + n_rep[bidx])
    no = len(o_pid)
    o_gap = rng.exponential(50 * DAY, no).astype(np.int64) + DAY
    o_gap[o_rank == 0] = 0
    # cumulative gaps within a person
    cs = np.cumsum(o_gap)
    first_pos = np.repeat(np.nonzero(o_rank == 0)[0], 1 + n_rep[bidx])
    o_t = t_buy[o_pid] + cs - cs[first_pos]
    o_first = o_rank == 0
    o_ch = ck_ch[o_pid]
    o_prod = np.where(o_first, main_prod[o_pid], cat.pick(rng, main_cat[o_pid]))
    o_qty = np.where(o_first, qty[o_pid], np.where(b2b[o_pid], rng.integers(2, 11, no), 1))
    o_unit = np.where(o_first, np.where(store_ck[o_pid], store_price[o_pid], unit[o_pid]), cat.price[o_prod])
    o_items = np.round(o_unit * o_qty, 2)
    o_ship = np.where(o_first, ship[o_pid], np.where((o_ch == CH["store"]) | (o_items >= 50), 0.0, 4.99))
    o_total = np.where(o_first, total[o_pid], np.round(o_items + o_ship, 2))
    o_id = ci * 10_000_000 + np.arange(no)
    rep = ~o_first
    r_on = rep & (o_ch != CH["store"])
    r_sess = np.full(no, NO, dtype=np.int64)
    r_sess[r_on] = sessions(int(r_on.sum()))
    rp = o_pid[r_on]
    base_t = o_t[r_on]
    for i, (e, tpn) in enumerate((("product_view", "product_page"), ("add_to_cart", "cart"),
                                  ("checkout_start", "checkout"), ("payment", "payment_page"))):
        buf.add(rp, base_t - (4 - i) * 60, EV[e], ch=o_ch[r_on], tp=W.TP[tpn], session=r_sess[r_on],
                product=o_prod[r_on], price=o_unit[r_on] if i < 2 else np.nan,
                value=o_total[r_on] if e == "payment" else np.nan, device=0)
    r_st = rep & (o_ch == CH["store"])
    buf.add(o_pid[r_st], o_t[r_st] - 600, EV["product_view"], ch=CH["store"],
            tp=W.TP[W.STORES[0]] + store_of[o_pid[r_st]], product=o_prod[r_st], price=o_unit[r_st])
    buf.add(o_pid[r_st], o_t[r_st] - 60, EV["payment"], ch=CH["store"],
            tp=W.TP[W.STORES[0]] + store_of[o_pid[r_st]], value=o_total[r_st])
    o_tp = np.where(o_ch == CH["store"], W.TP[W.STORES[0]] + store_of[o_pid], W.TP["confirmation"])
    o_sess = np.where(o_first, sess_of[o_pid], r_sess)
    o_sess = np.where(o_ch == CH["store"], NO, o_sess)
    o_dev = np.where(o_ch == CH["store"], NO, 0)
    buf.add(o_pid, o_t, EV["purchase"], ch=o_ch, tp=o_tp, value=o_total, order=o_id, product=o_prod,
            price=o_unit, qty=o_qty, ship=np.where(o_ch == CH["store"], np.nan, o_ship), session=o_sess, device=o_dev)
    buf.add(o_pid[rep], o_t[rep] + 1, EV["repeat_purchase"], ch=o_ch[rep], tp=o_tp[rep], order=o_id[rep],
            session=o_sess[rep], device=o_dev[rep])
    # loyalty points
    mem = member[o_pid]
    pts = np.floor(o_total).astype(np.int64) * mem
    cpts = np.cumsum(pts)
    bal = cpts - (cpts[first_pos] - pts[first_pos])
    tier = (bal >= 100).astype(np.int8) + (bal >= 500) + (bal >= 1000)
    buf.add(o_pid[mem], o_t[mem] + 60, EV["loyalty_points"], tp=W.TP["loyalty"], order=o_id[mem],
            points=pts[mem], balance=bal[mem], tier=tier[mem])

    # after-sales ----------------------------------------------------------------------
    onl = o_ch != CH["store"]
    cancel = onl & (rng.random(no) < 0.04)
    deliv = onl & ~cancel
    delay = (1.5 + rng.gamma(2.0, 0.8, no)) * DAY
    slow_deliv = np.zeros(no, dtype=bool)
    generic_slow = []
    for fr in F:
        if fr.kind != "slowness":
            continue
        evs = fr.values("event")
        if set(evs) & {"order_delivered", "delivery_problem"} or "delivery" in fr.values("touchpoint"):
            m = deliv & match(fr, seg[o_pid], prof[o_pid], o_ch, o_t)
            delay = np.where(m, delay * (1 + 3 * fr.strength), delay)
            slow_deliv |= m
            mark(fr, np.isin(np.arange(n), o_pid[m]))
            eff(fr, "delivery time (days)").add(delay / DAY, m, deliv)
        else:
            generic_slow.append(fr)
    late = deliv & (delay > 4 * DAY)
    problem = deliv & ((rng.random(no) < 0.05) | (late & (rng.random(no) < 0.6)))
    t_deliv = o_t + delay.astype(np.int64)
    buf.add(o_pid[deliv], t_deliv[deliv], EV["order_delivered"], tp=W.TP["delivery"], order=o_id[deliv])
    t_prob = o_t + np.minimum(delay, 3.5 * DAY).astype(np.int64)
    buf.add(o_pid[problem], t_prob[problem], EV["delivery_problem"], tp=W.TP["delivery_tracking"], order=o_id[problem])
    t_cancel = o_t + rng.integers(6 * HOUR, 2 * DAY, no)
    buf.add(o_pid[cancel], t_cancel[cancel], EV["cancellation"], ch=o_ch[cancel], tp=W.TP["order_tracking"],
            order=o_id[cancel], device=0)
    buf.add(o_pid[cancel], t_cancel[cancel] + rng.integers(2 * DAY, 6 * DAY, int(cancel.sum())), EV["refund"],
            tp=W.TP["refunds"], order=o_id[cancel], value=-o_total[cancel])
    malf = deliv & (rng.random(no) < 0.03)
    t_malf = t_deliv + rng.integers(3 * DAY, 40 * DAY, no)
    price_o = price_inc[o_pid] & o_first & (rng.random(no) < 0.6)
    # support matters: (order row, time, matter)
    mat_rows = np.concatenate([np.nonzero(problem)[0], np.nonzero(malf)[0], np.nonzero(cancel)[0], np.nonzero(price_o)[0]])
    mat_t = np.concatenate([t_prob[problem] + rng.integers(2 * HOUR, DAY, int(problem.sum())),
                            t_malf[malf], t_cancel[cancel] + HOUR, o_t[price_o] + rng.integers(DAY, 5 * DAY, int(price_o.sum()))])
    mat_kind = np.concatenate([np.full(int(problem.sum()), 0), np.full(int(malf.sum()), 1),
                               np.full(int(cancel.sum()), 2), np.full(int(price_o.sum()), 3)]).astype(np.int8)
    contact = np.where(mat_kind == 2, rng.random(len(mat_rows)) < 0.3,
                       np.where(mat_kind == 1, True, rng.random(len(mat_rows)) < 0.65))
    nm = len(mat_rows)
    sup_ch = np.array([CH["phone"], CH["chat"], CH["email"]])[rng.choice(3, nm, p=[0.45, 0.3, 0.25])]
    sup_tp = np.select([sup_ch == CH["phone"], sup_ch == CH["chat"]], [W.TP["call_center"], W.TP["chat_widget"]],
                       W.TP["support_email"])
    ticket = ci * 10_000_000 + np.arange(nm)
    m_pid = o_pid[mat_rows]
    c = contact
    buf.add(m_pid[c], mat_t[c], EV["support_contact"], ch=sup_ch[c], tp=sup_tp[c], ticket=ticket[c],
            matter=mat_kind[c], order=o_id[mat_rows][c])
    # base: some matters need a second contact on the same ticket and channel
    again = c & (rng.random(nm) < 0.1)
    buf.add(m_pid[again], mat_t[again] + rng.integers(HOUR, 3 * DAY, int(again.sum())), EV["support_contact"],
            ch=sup_ch[again], tp=sup_tp[again], ticket=ticket[again], matter=mat_kind[again], order=o_id[mat_rows][again])
    # silos: the same matter again on other channels with a new ticket (explain it all again)
    silo_m = np.zeros(nm, dtype=bool)
    next_ticket = ci * 10_000_000 + nm
    contacts_per_matter = c.astype(float) + again
    for fr in F:
        if fr.kind != "silo":
            continue
        m = c & match(fr, seg[m_pid], prof[m_pid], sup_ch, mat_t) & (rng.random(nm) < 0.3 + 0.7 * fr.strength)
        silo_m |= m
        j = np.nonzero(m)[0]
        k = 1 + rng.integers(0, 1 + int(round(2 * fr.strength)), len(j))
        rows, rank = expand(j, k)
        chs = np.array([CH["chat"], CH["email"], CH["phone"]])
        ch2 = chs[rank % 3]
        ch2 = np.where(ch2 == sup_ch[rows], chs[(rank + 1) % 3], ch2)
        tp2 = np.select([ch2 == CH["phone"], ch2 == CH["chat"]], [W.TP["call_center"], W.TP["chat_widget"]],
                        W.TP["support_email"])
        tk = next_ticket + np.arange(len(rows))
        next_ticket += len(rows)
        buf.add(m_pid[rows], mat_t[rows] + (rank + 1) * rng.integers(2 * HOUR, 16 * HOUR, len(rows)),
                EV["support_contact"], ch=ch2, tp=tp2, ticket=tk, matter=mat_kind[rows], order=o_id[mat_rows][rows])
        np.add.at(contacts_per_matter, j, k)
        mark(fr, np.isin(np.arange(n), m_pid[m]))
        eff(fr, "support contacts per matter").add(contacts_per_matter, m, c)
    complaint = (mat_kind == 0) & (rng.random(nm) < 0.45) | (mat_kind == 1) | ((mat_kind == 3) & (rng.random(nm) < 0.7))
    complaint |= silo_m & (rng.random(nm) < 0.5)
    t_compl = mat_t + rng.integers(HOUR, 2 * DAY, nm)
    cp_ch = np.where(sup_ch == CH["chat"], CH["email"], sup_ch)
    cp_tp = np.where(cp_ch == CH["phone"], W.TP["call_center"], W.TP["complaint_form"])
    cpl = complaint & (mat_kind != 2)
    buf.add(m_pid[cpl], t_compl[cpl], EV["complaint"], ch=cp_ch[cpl], tp=cp_tp[cpl], ticket=ticket[cpl],
            matter=mat_kind[cpl], order=o_id[mat_rows][cpl])
    refund = cpl & (rng.random(nm) < 0.5)
    ramount = np.round(np.where(mat_kind == 1, o_total[mat_rows], 0.2 * o_total[mat_rows] + o_ship[mat_rows]), 2)
    buf.add(m_pid[refund], t_compl[refund] + rng.integers(2 * DAY, 10 * DAY, int(refund.sum())), EV["refund"],
            tp=W.TP["refunds"], value=-ramount[refund], order=o_id[mat_rows][refund], ticket=ticket[refund])
    for fr in F:
        if fr.kind == "price_inconsistency":
            cper = np.zeros(n)
            np.add.at(cper, m_pid[cpl & (mat_kind == 3)], 1)
            eff(fr, "price complaints per store buyer").add(cper > 0, price_inc, store_ck)

    # lived experience per person (drives scores and verbatim topics)
    had_problem = np.zeros(n, dtype=bool)
    had_problem[o_pid[problem]] = True
    had_malf = np.zeros(n, dtype=bool)
    had_malf[o_pid[malf]] = True
    had_cancel = np.zeros(n, dtype=bool)
    had_cancel[o_pid[cancel]] = True
    had_silo = np.zeros(n, dtype=bool)
    had_silo[m_pid[silo_m]] = True
    bad_topic = np.full(n, NO, dtype=np.int16)
    # checkout irritants weigh on a minority of the buyers who went through them
    irritated = rng.random(n) < 0.3
    for mask, topic in ((long_ck & bought & irritated, "checkout_long"), (forced & bought & irritated, "account_forced"),
                        (surprise & bought & irritated, "shipping_fees"), (had_cancel, "cancellation"),
                        (price_inc, "price_inconsistency"), (had_malf, "product_defect"),
                        (had_problem, "delivery_late"), (had_silo, "support_silo")):
        bad_topic[mask] = T.TOPIC[topic]
    bad = bad_topic >= 0

    # feedback -------------------------------------------------------------------------
    fb = {"pid": [], "t": [], "kind": [], "score": [], "topic": [], "sent": [], "text": [], "ch": [], "tp": []}

    def fb_add(pid, t, kind, score, ch, tp, topic=None, sent=None, with_text=None):
        k = len(pid)
        if k == 0:
            return
        fb["pid"].append(pid)
        fb["t"].append(np.asarray(t, dtype=np.int64))
        fb["kind"].append(np.full(k, kind, dtype=object))
        fb["score"].append(np.asarray(score, dtype=float))
        fb["ch"].append(np.broadcast_to(np.asarray(ch, dtype=np.int16), (k,)))
        fb["tp"].append(np.broadcast_to(np.asarray(tp, dtype=np.int32), (k,)))
        fb["topic"].append(np.full(k, NO, np.int16) if topic is None else np.broadcast_to(np.asarray(topic, np.int16), (k,)))
        fb["sent"].append(np.full(k, NO, np.int8) if sent is None else np.broadcast_to(np.asarray(sent, np.int8), (k,)))
        fb["text"].append(np.ones(k, bool) if with_text is None else np.asarray(with_text, bool))

    good_nps = np.array([.01, .01, .015, .02, .025, .04, .06, .12, .19, .22, .29])
    bad_nps = np.array([.08, .07, .09, .1, .1, .12, .12, .1, .1, .06, .06])
    # NPS after the first delivered (or store) order
    nps_rows = o_first & (deliv | (o_ch == CH["store"])) & (rng.random(no) < cal["nps_response"])
    nps_p = o_pid[nps_rows]
    nps_t = np.where(o_ch[nps_rows] == CH["store"], o_t[nps_rows], t_deliv[nps_rows]) + 2 * DAY
    isbad = bad[nps_p]
    score = np.where(isbad, rng.choice(11, len(nps_p), p=bad_nps / bad_nps.sum()),
                     rng.choice(11, len(nps_p), p=good_nps / good_nps.sum()))
    buf.add(nps_p, nps_t, EV["survey_answer"], ch=CH["email"], tp=W.TP["nps_survey"])
    topic, sent = _topics(rng, score, 6, 9, bad_topic[nps_p], store_ck[nps_p], app_user[nps_p])
    fb_add(nps_p, nps_t, "nps", score, CH["email"], W.TP["nps_survey"], topic, sent, rng.random(len(nps_p)) < 0.6)

    # CSAT after a complaint and after a cancellation (IPSOS: 30% / 36% dissatisfied)
    for mask, key, tpn in ((cpl, "complaint_dissatisfaction", "complaint_followup"),
                           (mat_kind == 2, "cancellation_dissatisfaction", "cancellation_followup")):
        # surveys answered before the end of the period; exactly the calibrated share dissatisfied
        resp = mask & (rng.random(nm) < 0.7) & (t_compl + 3 * DAY < end)
        dis = quota(rng, resp, cal[key])
        j = np.nonzero(resp)[0]
        sc = np.where(dis[j], rng.choice([1, 2], len(j), p=[0.55, 0.45]),
                      rng.choice([3, 4, 5], len(j), p=[0.2, 0.45, 0.35]))
        tt = t_compl[j] + 3 * DAY
        buf.add(m_pid[j], tt, EV["survey_answer"], ch=CH["email"], tp=W.TP[tpn], ticket=ticket[j])
        tpc = np.where(mat_kind[j] == 2, T.TOPIC["cancellation"],
                       np.where(silo_m[j], T.TOPIC["support_silo"], bad_topic[m_pid[j]]))
        tpc = np.where(tpc < 0, T.TOPIC["support_wait"], tpc)
        tpc = np.where(sc >= 4, T.TOPIC["service_pos"], tpc)
        fb_add(m_pid[j], tt, "csat", sc, CH["email"], W.TP[tpn], tpc, np.where(sc <= 2, 0, np.where(sc == 3, 1, 2)),
               rng.random(len(j)) < 0.5)
        # the complaint itself, as text
    j = np.nonzero(cpl)[0]
    mtopic = np.array([T.TOPIC["delivery_late"], T.TOPIC["product_defect"], T.TOPIC["cancellation"],
                       T.TOPIC["price_inconsistency"]])[mat_kind[j]]
    mtopic = np.where(silo_m[j], T.TOPIC["support_silo"], mtopic)
    fb_add(m_pid[j], t_compl[j], "complaint", np.full(len(j), np.nan), cp_ch[j], cp_tp[j], mtopic, 0)
    # CSAT after a support contact
    resp = c & (rng.random(nm) < 0.3)
    j = np.nonzero(resp)[0]
    sc = np.where(silo_m[j], rng.choice([1, 2, 3], len(j), p=[.5, .35, .15]), rng.choice([1, 2, 3, 4, 5], len(j), p=[.08, .1, .17, .35, .3]))
    tpc = np.where(silo_m[j], T.TOPIC["support_silo"], np.where(sc >= 4, T.TOPIC["service_pos"], T.TOPIC["support_wait"]))
    fb_add(m_pid[j], mat_t[j] + DAY, "csat", sc, sup_ch[j], sup_tp[j], tpc, np.where(sc <= 2, 0, np.where(sc == 3, 1, 2)),
           rng.random(len(j)) < 0.4)
    # CES after the first online checkout (1 easy .. 7 hard)
    resp = bought_online & (rng.random(n) < 0.15)
    j = np.nonzero(resp)[0]
    hard = long_ck[j] | forced[j] | surprise[j]
    sc = np.where(hard, rng.choice(7, len(j), p=[.02, .05, .1, .18, .25, .22, .18]) + 1,
                  rng.choice(7, len(j), p=[.3, .3, .18, .1, .06, .04, .02]) + 1)
    ces_topic = np.select([long_ck[j], forced[j], surprise[j]],
                          [T.TOPIC["checkout_long"], T.TOPIC["account_forced"], T.TOPIC["shipping_fees"]], T.TOPIC["general"])
    fb_add(j, t_buy[j] + HOUR, "ces", sc, ck_ch[j], W.TP["checkout"], ces_topic, np.where(sc >= 5, 0, np.where(sc >= 3, 1, 2)),
           hard & (rng.random(len(j)) < 0.5))
    # exit survey of online cart abandoners (Baymard reasons)
    abandon = online & ~bought_online & (t_p + off + 30 < end)
    resp = quota(rng, abandon, cal["exit_survey_response"])
    j = np.nonzero(resp)[0]
    rtopics = np.array([T.TOPIC["shipping_fees"], T.TOPIC["account_forced"], T.TOPIC["checkout_long"],
                        T.TOPIC["payment_issue"]])
    reason_sets = [list(rtopics[r]) or [T.TOPIC["browsing"]] for r in reasons[j]]
    stop_tp = np.array([W.TP[s] for s in W.CHECKOUT_STEPS])[np.clip(stop[j], 0, 5)]
    ex_t = t_p[j] + off[j] + 30
    fb["exit"] = (j, ex_t, ck_ch[j], stop_tp, ctx.verbatims.reasons(rng, reason_sets))

    # advocacy -------------------------------------------------------------------------
    idx = np.nonzero(bought)[0]
    happy = ~bad[idx]
    rev = rng.random(len(idx)) < np.where(happy, 0.14, 0.2)
    j = idx[rev]
    t_rev = t_buy[j] + rng.integers(3 * DAY, 30 * DAY, len(j))
    buf.add(j, t_rev, EV["review_posted"], ch=prim[j], tp=W.TP["review_form"], product=main_prod[j], device=0)
    rs_ = np.where(bad[j], rng.choice([1, 2, 3], len(j), p=[.45, .35, .2]) + 0, rng.choice([3, 4, 5], len(j), p=[.1, .35, .55]))
    topic, sent = _topics(rng, rs_, 2, 4, bad_topic[j], store_ck[j], app_user[j])
    fb_add(j, t_rev, "review", rs_, prim[j], W.TP["review_form"], topic, sent)
    share = idx[happy & (rng.random(len(idx)) < 0.06)]
    buf.add(share, t_buy[share] + rng.integers(HOUR, 10 * DAY, len(share)), EV["social_share"], ch=CH["social"],
            tp=W.TP["instagram"] + rng.integers(0, 3, len(share)), product=main_prod[share], device=0)
    ref = idx[happy & (rng.random(len(idx)) < 0.05)]
    t_ref = t_buy[ref] + rng.integers(DAY, 40 * DAY, len(ref))
    buf.add(ref, t_ref, EV["referral_sent"], ch=CH["email"], tp=W.TP["referral_page"])
    ok = rng.random(len(ref)) < 0.4
    buf.add(ref[ok], t_ref[ok] + rng.integers(DAY, 20 * DAY, int(ok.sum())), EV["referral_signup"], ch=CH["web"],
            tp=W.TP["referral_page"], device=0)
    # app opens of app buyers
    idx = np.nonzero(bought & app_user)[0]
    k = rng.poisson(4, len(idx))
    pid, _ = expand(idx, k)
    buf.add(pid, t_buy[pid] + rng.integers(DAY, 150 * DAY, len(pid)), EV["app_open"], ch=CH["app"],
            tp=W.TP["app_home"], device=0)

    E = buf.build()

    # generic slowness: stretch the wait before matching events, shift what follows
    for fr in generic_slow:
        E, mk, waits = _stretch(E, fr, seg, prof, 1 + 3 * fr.strength)
        mark(fr, mk)
        e = eff(fr, "wait before the matching events (hours): with the friction (affected) vs without (others)")
        e.a_num += float(waits.sum() * (1 + 3 * fr.strength)) / HOUR
        e.o_num += float(waits.sum()) / HOUR
        e.a_den += len(waits)
        e.o_den += len(waits)
    # nothing after the end of the period
    keep = E["t"] < end
    E = {k2: v[keep] for k2, v in E.items()}

    # identification, links between devices, filler visits -----------------------------
    ident = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    idm = np.isin(E["ev"], IDENTIFYING_EVENTS) | np.isin(E["ch"], IDENTIFYING_CHANNELS)
    np.minimum.at(ident, E["pid"][idm], E["t"][idm])
    known = ident < np.iinfo(np.int64).max
    # every anonymous id of a known person shows up at least once with the customer id
    linked = np.zeros(n, dtype=bool)
    lk = (E["device"] == 0) & (E["t"] >= ident[E["pid"]])
    linked[E["pid"][lk]] = True
    had_anon = np.zeros(n, dtype=bool)
    had_anon[E["pid"][E["device"] == 0]] = True
    need = np.nonzero(known & had_anon & ~linked)[0]
    t_link = np.minimum(ident[need] + 600, end - 1)
    extra = Buf()
    extra.add(need, t_link, EV["page_view"], ch=prim[need], tp=W.TP["account_login"], session=sessions(len(need)),
              device=0)
    # web/app events without a session get one of their own
    E = _concat(E, extra.build())
    nos = np.isin(E["ch"], ONLINE) & (E["session"] < 0)
    E["session"][nos] = sessions(int(nos.sum()))
    E["device"][nos & (E["device"] < 0)] = 0
    # filler visits (browsing) so that purchase visits are cal["visit_conversion"] of all visits
    web = E["session"] >= 0
    n_sess = len(np.unique(E["session"][web]))
    n_buy = len(np.unique(E["session"][web & (E["ev"] == EV["purchase"])]))
    want = int(round(n_buy / cal["visit_conversion"])) if cal["visit_conversion"] > 0 else n_sess
    k_fill = max(0, want - n_sess)
    cand = np.nonzero(reach_c)[0]
    if k_fill and len(cand):
        w = 1.0 + 2.0 * reach_p[cand] + 2.0 * bought[cand]
        fp = np.sort(rng.choice(cand, k_fill, p=w / w.sum()))
        span = np.clip(np.minimum(end - t_c[fp] - HOUR, 120 * DAY), 0, None)
        fs_t = t_c[fp] + (rng.random(k_fill) * span).astype(np.int64)
        fs = sessions(k_fill)
        # second device for some visits of known multi-device people
        d2 = multi[fp] & (fs_t > ident[fp]) & (rng.random(k_fill) < 0.4)
        fch = np.where(d2, np.where(prim[fp] == CH["app"], CH["web"], CH["app"]), prim[fp]).astype(np.int16)
        fdev = np.where(d2, 1, 0).astype(np.int8)
        k = 2 + np.minimum(rng.poisson(1.3, k_fill), 6)
        rows, rank = expand(np.arange(k_fill), k)
        pg = np.array([W.TP["home"], W.TP["category_page"], W.TP["search_results"], W.TP["promo_page"]])
        first = rank == 0
        prod = cat.pick(rng, main_cat[fp[rows]])
        fb_ev = np.where(first, EV["page_view"], np.where(rng.random(len(rows)) < 0.12, EV["review_read"], EV["product_view"]))
        ftp = np.where(first, pg[rng.integers(0, 4, len(rows))],
                       np.where(fb_ev == EV["review_read"], W.TP["reviews"], W.TP["product_page"]))
        fill = Buf()
        fill.add(fp[rows], fs_t[rows] + rank * (30 + rng.integers(0, 120, len(rows))), fb_ev, ch=fch[rows], tp=ftp,
                 session=fs[rows], device=fdev[rows], product=np.where(first, NO, prod),
                 price=np.where(first, np.nan, cat.price[prod]))
        E = _concat(E, fill.build())

    # sort by person then time (stable: the order of emission breaks ties)
    order = _person_time_order(E)
    E = {k2: v[order] for k2, v in E.items()}
    known_ev = E["t"] >= ident[E["pid"]]
    # the first event of a second device is anonymous (sign-in happens during that visit)
    d2 = E["device"] == 1
    first_d2 = np.zeros(len(d2), dtype=bool)
    if d2.any():
        pos = np.nonzero(d2)[0]
        fpos = pos[np.r_[True, E["pid"][pos][1:] != E["pid"][pos][:-1]]]
        first_d2[fpos] = True
    E["known"] = known_ev & ~first_d2

    persons = dict(seg=seg, prof=prof, acq=acq, known=known, ident=ident, country=country, age=age, gender=gender,
                   city=city, consent_email=consent_email, consent_sms=consent_sms, dev1=dev1, dev2=dev2,
                   b2b=b2b, aware=aware, reach_c=reach_c, reach_p=reach_p, bought=bought, multi=multi, t0=t0)
    # feedback arrays
    F_ = {k2: (np.concatenate(v) if v else np.empty(0)) for k2, v in fb.items() if k2 != "exit"}
    ej, et, ech, etp, etext = fb["exit"]
    F_["exit"] = dict(pid=ej, t=et, ch=ech, tp=etp, text=etext)
    # negative feedback frictions: lower scores where they match
    for fr in F:
        if fr.kind != "negative_feedback" or not len(F_["pid"]):
            continue
        tps = [W.tp_code(x) for x in fr.values("touchpoint")]
        fp = F_["pid"].astype(np.int64)
        m = match(fr, seg[fp], prof[fp], F_["ch"], F_["t"])
        if tps:
            m &= np.isin(F_["tp"], tps)
        m &= F_["kind"] != "complaint"
        hit = m & (rng.random(len(fp)) < fr.strength)
        kinds = F_["kind"]
        low = np.select([kinds == "nps", kinds == "ces"], [rng.integers(0, 5, len(fp)), rng.integers(5, 8, len(fp))],
                        rng.integers(1, 3, len(fp)))
        F_["score"] = np.where(hit, low, F_["score"])
        tp_topic = T.TOPIC.get(fr.params.get("topic", "support_wait"), T.TOPIC["support_wait"])
        F_["topic"] = np.where(hit, tp_topic, F_["topic"])
        F_["sent"] = np.where(hit, 0, F_["sent"])
        F_["text"] = F_["text"] | hit
        mark(fr, np.isin(np.arange(n), fp[hit]))
        eff(fr, "normalised score (0 worst, 1 best): answers at the place vs elsewhere").add(
            _norm_score(kinds, F_["score"]), m, ~np.isnan(F_["score"]))
    spend_counts = np.zeros((ctx.days, len(W.ACQ)), dtype=np.int64)
    np.add.at(spend_counts, (np.clip((t0 - ctx.start_ts) // DAY, 0, ctx.days - 1), _acq_index(acq)), 1)
    stats = {"effects": effects, "online_checkouts": int(online.sum())}
    return ChunkOut(E, persons, F_, affected, spend_counts, stats)


def _acq_index(acq):
    lut = np.zeros(16, dtype=np.int64)
    for i, c in enumerate(W.ACQ_CODES):
        lut[c] = i
    return lut[acq]


def _norm_score(kinds, score):
    lo = np.select([kinds == "nps", kinds == "ces"], [0.0, 1.0], 1.0)
    hi = np.select([kinds == "nps", kinds == "ces"], [10.0, 7.0], 5.0)
    x = (score - lo) / (hi - lo)
    return np.where(kinds == "ces", 1 - x, x)


def _topics(rng, score, neg_max, pos_min, bad_topic, store, app):
    """Verbatim topic and sentiment from the score and what the person lived."""
    k = len(score)
    sent = np.where(score <= neg_max, 0, np.where(score >= pos_min, 2, 1)).astype(np.int8)
    pos_choices = np.array([T.TOPIC[x] for x in ("product_pos", "delivery_pos", "price_pos", "service_pos")])
    pos = pos_choices[rng.integers(0, len(pos_choices), k)]
    pos = np.where(store & (rng.random(k) < 0.5), T.TOPIC["store_pos"], pos)
    pos = np.where(app & (rng.random(k) < 0.3), T.TOPIC["app_pos"], pos)
    neg_generic = np.array([T.TOPIC["general"], T.TOPIC["support_wait"]])[rng.integers(0, 2, k)]
    neg = np.where(bad_topic >= 0, bad_topic, neg_generic)
    neu = np.where(bad_topic >= 0, bad_topic, T.TOPIC["general"])
    topic = np.select([sent == 0, sent == 1], [neg, neu], np.where(bad_topic >= 0, T.TOPIC["service_pos"], pos))
    return topic.astype(np.int16), sent


def _person_time_order(E) -> np.ndarray:
    """Stable order by person then time, through one int64 key (faster than lexsort)."""
    t = E["t"]
    if not len(t):
        return np.arange(0)
    rel = t - t.min()
    if rel.max() < 2**36 and E["pid"].max() < 2**26:
        return np.argsort((E["pid"] << 36) | rel, kind="stable")
    return np.lexsort((t, E["pid"]))


def _concat(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _stretch(E, fr, seg, prof, mult):
    """Multiply the wait before each matching event by ``mult`` and shift the person's later events."""
    order = _person_time_order(E)
    E = {k: v[order] for k, v in E.items()}
    pid, t = E["pid"], E["t"]
    m = match(fr, seg[pid], prof[pid], E["ch"], t)
    evs = [EV[e] for e in fr.values("event") if e in EV]
    tps = [W.TP[x] for x in fr.values("touchpoint") if x in W.TP]
    if evs:
        m &= np.isin(E["ev"], evs)
    if tps:
        m &= np.isin(E["tp"], tps)
    stages = fr.values("stage")
    if stages:
        m &= np.isin(E["ev"], [EV[e] for s in stages for e in W.STAGE_EVENTS.get(s, ())])
    same = np.r_[False, pid[1:] == pid[:-1]]
    m &= same
    wait = np.zeros(len(t), dtype=np.int64)
    wait[1:] = t[1:] - t[:-1]
    add = np.where(m, (wait * (mult - 1)).astype(np.int64), 0)
    cs = np.cumsum(add)
    # reset per person: subtract the cumulative sum before the person's first row
    starts = np.r_[True, ~same[1:]]
    base = np.maximum.accumulate(np.where(starts, np.arange(len(t)), 0))
    before = cs[base] - add[base]
    E["t"] = t + cs - before
    affected = np.zeros(len(seg), dtype=bool)
    affected[pid[m]] = True
    return E, affected, wait[m]
