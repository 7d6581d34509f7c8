"""The scenario engine: who enters, which steps are due, what is done, all durable in the store.

``run_due(ws, now)`` is the whole cycle: find new entries, walk every customer with work up
to ``now``, deliver the outbox, and repeat while actions written back as events trigger more
entries (a loyalty tier reached starts the tier e-mail). The web server calls ``on_ingest``
after an import and a scheduler calls ``run_due``; the CLI's ``parcours run --until`` does the
same with a simulated clock.

Why one customer at a time, in time order: everything a step depends on (the goal, the
frequency cap, the re-entry policy, the loyalty balance) belongs to one customer, so walking
one customer's entries and due steps in time order is exact, also when a run catches up on
days of history. Customers are handled in batches, each batch one transaction holding the
state changes, the outbox rows and the events written back: a process killed anywhere loses
at most the batch in flight, which the next run redoes identically (ids and draws are
hashes), so no step is done twice and none is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import string
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..errors import ConfigError
from . import loyalty
from .ids import code, short_id, unit_hash
from ..data.importer import failpoint
from .outbox import OUTBOX_DDL, Delivery, deliver
from .scenario import Action, Condition, EventCond, Scenario, clock_range, duration
from .settings import Settings

#: events whose id starts with this were written by the engine (not customer activity).
ACT_PREFIX = "act:"
#: action kinds that contact the customer (guards apply); the others are bookkeeping.
CONTACT_KINDS = ("email", "sms", "webhook", "survey", "offer", "referral", "task")
MAX_STEPS = 200  # steps of one run at one instant: more is a goto loop without a wait


@dataclass(frozen=True)
class Tables:
    """Where the engine keeps its state: the real tables, or temp ones for a simulation."""

    state: str = "act_state"
    outbox: str = "act_outbox"
    log: str = "act_log"
    marks: str = "act_marks"
    temp: bool = False


REAL = Tables()
SIMULATION = Tables("act_sim_state", "act_sim_outbox", "act_sim_log", "act_sim_marks", temp=True)

STATE_COLUMNS = ("scenario", "customer_id", "entry_key", "entered_at", "step", "due_at", "waiting_since",
                 "status", "variant", "steps_done", "ended_at", "entry_props")


def ensure_tables(con, tables: Tables = REAL) -> None:
    temp = "TEMP" if tables.temp else ""
    con.execute(f"""CREATE {temp} TABLE IF NOT EXISTS {tables.state} (
        scenario VARCHAR, customer_id VARCHAR, entry_key VARCHAR, entered_at TIMESTAMP, step INTEGER,
        due_at TIMESTAMP, waiting_since TIMESTAMP, status VARCHAR, variant VARCHAR, steps_done INTEGER,
        ended_at TIMESTAMP, entry_props VARCHAR)""")
    con.execute(OUTBOX_DDL.format(temp=temp, name=tables.outbox))
    con.execute(f"""CREATE {temp} TABLE IF NOT EXISTS {tables.log} (
        scenario VARCHAR, customer_id VARCHAR, entry_key VARCHAR, step VARCHAR, "at" TIMESTAMP,
        action VARCHAR, outcome VARCHAR, reason VARCHAR, message_id VARCHAR)""")
    con.execute(f"""CREATE {temp} TABLE IF NOT EXISTS {tables.marks} (
        scenario VARCHAR, seq_done BIGINT, time_done TIMESTAMP)""")
    if not tables.temp:
        con.execute("""CREATE TABLE IF NOT EXISTS act_requests (
            scenario VARCHAR, customer_id VARCHAR, "at" TIMESTAMP, request_key VARCHAR, properties VARCHAR)""")


# -- the report -----------------------------------------------------------------------------
@dataclass
class RunReport:
    """What one run did, per scenario, and what the delivery round did."""

    now: dt.datetime
    scenarios: dict[str, dict[str, int]] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    events_written: int = 0
    customers: int = 0
    delivery: Delivery = field(default_factory=Delivery)

    def count(self, scenario: str, key: str, n: int = 1) -> None:
        row = self.scenarios.setdefault(scenario, {})
        row[key] = row.get(key, 0) + n

    def to_dict(self) -> dict:
        return {"now": self.now.isoformat(), "customers": self.customers, "scenarios": self.scenarios,
                "suppressed": self.suppressed, "events_written": self.events_written,
                "delivery": self.delivery.to_dict()}

    def to_frame(self):
        import pandas as pd

        keys = ("entered", "holdout", "control", "actions", "messages", "suppressed", "postponed",
                "goal", "exited", "done")
        return pd.DataFrame([{"scenario": s, **{k: v.get(k, 0) for k in keys}}
                             for s, v in sorted(self.scenarios.items())])


# -- per-customer state --------------------------------------------------------------------------
@dataclass
class State:
    scenario: str
    customer_id: str
    entry_key: str
    entered_at: dt.datetime
    step: int
    due_at: dt.datetime | None
    waiting_since: dt.datetime | None
    status: str
    variant: str | None
    steps_done: int
    ended_at: dt.datetime | None
    entry_props: dict
    dirty: bool = False

    def row(self) -> tuple:
        return (self.scenario, self.customer_id, self.entry_key, self.entered_at, self.step, self.due_at,
                self.waiting_since, self.status, self.variant, self.steps_done, self.ended_at,
                json.dumps(self.entry_props, default=str))


class _Blank(dict):
    """Template values: a missing field renders as nothing rather than failing a whole run."""

    def __missing__(self, key):
        return ""


def render(text: str, values: dict) -> str:
    return string.Formatter().vformat(text, (), _Blank(values))


def _show(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return "" if v is None else v


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc).astimezone(tz)


def _utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _in_range(t: dt.time, a: dt.time, b: dt.time) -> bool:
    return a <= t < b if a < b else (t >= a or t < b)


def _next_at(local: dt.datetime, at: dt.time) -> dt.datetime:
    """The first instant (UTC) from ``local`` whose local time is ``at`` or later that day: today
    if still ahead, else tomorrow; when a clock change skips ``at``, the end of the skipped hour."""
    day = local.date() if local.timetz().replace(tzinfo=None) < at else local.date() + dt.timedelta(days=1)
    wall = dt.datetime.combine(day, at)
    u = _utc(wall.replace(tzinfo=local.tzinfo))
    minute = dt.timedelta(minutes=1)
    if _local(u, local.tzinfo).replace(tzinfo=None) != wall:  # skipped: step back to the jump
        while _local(u - minute, local.tzinfo).replace(tzinfo=None) >= wall:
            u -= minute
    return u


def next_in_window(t: dt.datetime, tz: ZoneInfo, window: str) -> dt.datetime:
    """``t`` if its local time is inside ``window`` (e.g. 09:00-20:00), else the window's next start."""
    a, b = clock_range(window)
    local = _local(t, tz)
    if _in_range(local.time(), a, b):
        return t
    return _next_at(local, a)


def after_quiet(t: dt.datetime, tz: ZoneInfo, quiet: str) -> dt.datetime:
    """``t`` outside quiet hours, else the local time quiet hours end."""
    a, b = clock_range(quiet)
    local = _local(t, tz)
    if not _in_range(local.time(), a, b):
        return t
    return _next_at(local, b)


def _truthy(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "yes", "1", "oui", "y")
    return bool(v) and v is not None


def _attr_match(attrs: dict, want: dict) -> bool:
    from ..journey.model import property_text

    for k, v in want.items():
        accepted = {property_text(x) for x in (v if isinstance(v, list) else [v])}
        if property_text(attrs.get(k)) not in accepted:
            return False
    return True


class Customer:
    """One customer's walk through the scenarios, from its candidates and states up to ``now``.

    Pure Python over what was fetched for the customer; it returns rows to write and never
    touches the store, so a batch is decided first and written in one transaction.
    """

    def __init__(self, engine: "Engine", customer_id: str, attrs: dict, events: list[dict],
                 states: list[State], sent: list[dt.datetime]):
        self.e = engine
        self.id = customer_id
        self.attrs = attrs
        self.events = events  # relevant events, sorted by time
        self.states = states
        self.sent = sorted(sent)
        self.lang = attrs.get("lang") if attrs.get("lang") in ("fr", "en") else engine.settings.default_lang
        tzname = attrs.get("timezone") or engine.settings.default_timezone
        try:
            self.tz = _zone(str(tzname))
        except Exception:
            self.tz = _zone(engine.settings.default_timezone)
        self.out_messages: list[tuple] = []
        self.out_events: list[dict] = []
        self.out_log: list[tuple] = []
        self.out_tags: dict = {}
        self.spins: dict[int, tuple] = {}  # state -> (instant, steps fired at it)

    # -- events -------------------------------------------------------------------------
    def _first(self, cond: EventCond, after: dt.datetime, until: dt.datetime) -> dt.datetime | None:
        for ev in self.events:
            if ev["timestamp"] > until:
                break
            if ev["timestamp"] > after and cond.matches(ev):
                return ev["timestamp"]
        return None

    def _holds(self, cond: Condition, s: State, t: dt.datetime) -> bool:
        ok = True
        if cond.attributes:
            ok = _attr_match(self.attrs, cond.attributes)
        if ok and cond.event is not None:
            since = t - duration(cond.within) if cond.within else s.entered_at
            ok = self._first(cond.event, since, t) is not None
        return ok != cond.negate

    # -- the walk -----------------------------------------------------------------------
    def walk(self, candidates: list[tuple], now: dt.datetime) -> None:
        """Candidates are (time, scenario, entry_key, props), handled in time order with due steps."""
        cands = sorted(candidates, key=lambda c: (c[0], self.e.order[c[1]], c[2]))
        i = 0
        while True:
            best, best_t = None, None
            for s in self.states:
                if s.status == "active":
                    t = self._wake(s, now)
                    if t is not None and (best_t is None or t < best_t):
                        best, best_t = s, t
            if best is not None and (i >= len(cands) or best_t <= cands[i][0]):
                self._fire(best, best_t)
            elif i < len(cands):
                self._enter(*cands[i])
                i += 1
            else:
                break

    def _wake(self, s: State, now: dt.datetime) -> dt.datetime | None:
        sc = self.e.scenarios[s.scenario]
        if s.step >= len(sc.steps):  # the scenario lost steps since this run started
            return s.due_at if s.due_at <= now else None
        spec = sc.steps[s.step]
        if s.waiting_since is not None and spec.wait is not None and spec.wait.until is not None:
            hit = self._first(spec.wait.until, s.waiting_since, min(now, s.due_at))
            if hit is not None:
                return hit
        return s.due_at if s.due_at <= now else None

    def _close_if_over(self, s: State, t: dt.datetime) -> bool:
        """The goal or an exit event since entry ends the scenario (at that event's time)."""
        sc = self.e.scenarios[s.scenario]
        ends = []
        if sc.goal is not None:
            g = self._first(sc.goal.event, s.entered_at, t)
            if g is not None:
                ends.append((g, "goal"))
        for c in sc.exit:
            x = self._first(c, s.entered_at, t)
            if x is not None:
                ends.append((x, "exited"))
        if not ends:
            return False
        at, status = min(ends)
        self._end(s, status, at)
        return True

    def _end(self, s: State, status: str, at: dt.datetime) -> None:
        s.status, s.ended_at, s.due_at, s.waiting_since, s.dirty = status, at, None, None, True
        self.e.report.count(s.scenario, status)

    def _enter(self, t: dt.datetime, name: str, key: str, props: dict) -> None:
        sc = self.e.scenarios[name]
        if sc.entry.where and not _attr_match(self.attrs, sc.entry.where):
            return
        mine = [s for s in self.states if s.scenario == name]
        for s in mine:  # an active run may have met its goal before this new trigger
            if s.status == "active":
                self._close_if_over(s, t)
        policy = sc.entry.reentry
        if policy == "once" and mine:
            return
        if policy == "after_exit" and any(s.entered_at <= t and (s.ended_at is None or s.ended_at > t) for s in mine):
            return
        variant = None
        if unit_hash("control", self.id) < self.e.settings.guards.control_group:
            variant = "control"
        elif unit_hash("holdout", name, self.id) < sc.holdout:
            variant = "holdout"
        s = State(name, self.id, key, t, 0, t, None, "active", variant, 0, None, props, dirty=True)
        self.states.append(s)
        self.e.report.count(name, "entered")
        if variant:
            self.e.report.count(name, variant)
        self._arrive(s, 0, t)

    def _arrive(self, s: State, idx: int, t: dt.datetime) -> None:
        sc = self.e.scenarios[s.scenario]
        s.dirty = True
        if idx >= len(sc.steps):
            self._end(s, "done", t)
            return
        s.step, s.waiting_since, s.due_at = idx, None, t
        w = sc.steps[idx].wait
        if w is not None:
            if w.delay:
                s.due_at = t + duration(w.delay)
            elif w.window:
                s.due_at = next_in_window(t, self.tz, w.window)
            else:
                s.waiting_since, s.due_at = t, t + duration(w.timeout)

    def _next(self, sc: Scenario, idx: int, goto: str | None) -> int:
        return sc.index(goto) if goto else idx + 1

    def _fire(self, s: State, t: dt.datetime) -> None:
        """Run the current step at ``t`` (its due time, or the event a wait was waiting for)."""
        sc = self.e.scenarios[s.scenario]
        if self._close_if_over(s, t):
            return
        if s.step >= len(sc.steps):
            self._end(s, "done", t)
            return
        spin = self.spins.get(id(s))
        self.spins[id(s)] = (t, spin[1] + 1) if spin and spin[0] == t else (t, 1)
        if self.spins[id(s)][1] > MAX_STEPS:
            self._end(s, "error", t)
            return
        spec = sc.steps[s.step]
        s.dirty = True
        s.steps_done += 1
        self.e.report.count(s.scenario, "steps")
        if spec.kind == "wait":
            self._arrive(s, self._next(sc, s.step, spec.goto), t)
        elif spec.kind == "split":
            ok = self._holds(spec.split.condition, s, t)
            target = spec.split.then if ok else spec.split.else_
            self._arrive(s, sc.index(target) if target else self._next(sc, s.step, spec.goto), t)
        elif spec.kind == "random":
            sid = sc.ids[s.step]
            u = unit_hash("variant", s.scenario, sid, self.id) * sum(v.weight for v in spec.random)
            for v in spec.random:
                u -= v.weight
                if u < 0 or v is spec.random[-1]:
                    break
            if s.variant not in ("holdout", "control"):
                s.variant = v.name
            self._arrive(s, sc.index(v.goto) if v.goto else self._next(sc, s.step, spec.goto), t)
        elif spec.kind == "action":
            later = self._act(s, spec.action, sc.ids[s.step], t)
            if later is not None:
                s.due_at = later
                s.steps_done -= 1
                self.e.report.count(s.scenario, "postponed")
                return
            self._arrive(s, self._next(sc, s.step, spec.goto), t)
        else:  # end
            self._end(s, "done", t)

    # -- actions ------------------------------------------------------------------------
    def _log(self, s: State, step: str, t, action: str, outcome: str, reason: str | None = None,
             message_id: str | None = None) -> None:
        self.out_log.append((s.scenario, self.id, s.entry_key, step, t, action, outcome, reason, message_id))
        if outcome == "suppressed":
            self.e.report.suppressed[reason] = self.e.report.suppressed.get(reason, 0) + 1
            self.e.report.count(s.scenario, "suppressed")

    def _act(self, s: State, a: Action, step: str, t: dt.datetime) -> dt.datetime | None:
        """Do the action, or say why not; returns a later time when quiet hours postpone it."""
        settings = self.e.settings
        channel = a.channel_name
        mid = short_id(s.scenario, self.id, s.entry_key, step, s.steps_done)
        if a.kind in CONTACT_KINDS:
            if s.variant in ("holdout", "control"):
                self._log(s, step, t, a.kind, "suppressed", s.variant)
                return None
            if channel != "task":
                consent_key = f"consent_{a.channel if a.kind == 'webhook' else channel}"
                if not _truthy(self.attrs.get(consent_key)):
                    self._log(s, step, t, a.kind, "suppressed", "no_consent")
                    return None
                if settings.guards.quiet_hours:
                    later = after_quiet(t, self.tz, settings.guards.quiet_hours)
                    if later != t:
                        self._log(s, step, t, a.kind, "postponed", "quiet_hours")
                        return later
                cap = settings.guards.frequency_cap
                if cap is not None:
                    since = t - duration(cap.per)
                    if sum(1 for x in self.sent if since < x <= t) >= cap.max:
                        self._log(s, step, t, a.kind, "suppressed", "frequency_cap")
                        return None
            recipient = {"email": self.attrs.get("email"), "sms": self.attrs.get("phone")}.get(channel, self.id)
            if not recipient:
                self._log(s, step, t, a.kind, "suppressed", "no_address")
                return None
        self.e.report.count(s.scenario, "actions")
        values = {k: _show(v) for k, v in self.attrs.items() if not isinstance(v, (dict, list))}
        values.update(customer_id=self.id, message_id=mid, scenario=s.scenario,
                      entry=_Blank({k: _show(v) for k, v in s.entry_props.items()}))
        props = {"scenario": s.scenario, "step": step, "variant": s.variant, "entry_key": s.entry_key}
        touchpoint = f"{s.scenario}:{step}"
        if a.kind == "loyalty":
            self._loyalty(s, a, step, t, mid, touchpoint, props)
            self._log(s, step, t, a.kind, "done", None, mid)
            return None
        if a.kind == "tag":
            self.out_tags.update(a.tags)
            self.attrs.update(a.tags)
            self._event(mid, t, "tag_changed", "crm", touchpoint, {**props, "tags": a.tags})
            self._log(s, step, t, a.kind, "done", None, mid)
            return None
        event = {"email": "email_sent", "sms": "sms_sent", "webhook": "message_sent", "survey": "survey_sent",
                 "offer": "offer_sent", "referral": "referral_code_issued", "task": "task_created"}[a.kind]
        if a.kind == "survey":
            values["survey"] = props["survey"] = a.survey
            values["survey_url"] = render(settings.survey_url, {"message_id": mid, "survey": a.survey})
        if a.kind == "offer":
            prefix = "".join(ch for ch in s.scenario.upper() if ch.isalnum())[:4] or "CODE"
            values["coupon"] = props["coupon"] = code(prefix, s.scenario, self.id, s.entry_key)
            values["discount"] = props["discount"] = a.discount or ""
        if a.kind == "referral":
            values["referral_code"] = props["referral_code"] = referral_code(self.id)
        if a.kind == "task":
            subject, body = f"[{a.assignee}] {s.scenario}", render(a.note.get(self.lang), values)
            props["assignee"] = a.assignee
        else:
            m = a.message
            subject = render(m.subject.get(self.lang), values) if m.subject else None
            body = render(m.body.get(self.lang), values)
        hook = "smtp" if channel == "email" else (a.channel if a.kind == "webhook" else channel)
        payload = json.dumps({"lang": self.lang, **{k: v for k, v in props.items() if v is not None}},
                             ensure_ascii=False, default=str)
        self.out_messages.append((mid, s.scenario, self.id, step, channel, hook, recipient, subject, body,
                                  payload, t, "pending", 0, None, None))
        if channel != "task":
            self.sent.append(t)
        self.e.report.count(s.scenario, "messages")
        self._event(mid, t, event, channel, touchpoint, {**props, "message_id": mid})
        self._log(s, step, t, a.kind, "sent", None, mid)
        return None

    def _loyalty(self, s, a: Action, step, t, mid, touchpoint, props) -> None:
        tiers = self.e.settings.loyalty_tiers
        before = sum(int((ev.get("properties") or {}).get("points", 0)) for ev in self.events
                     if ev["event"] == "loyalty_points" and ev["timestamp"] <= t)
        points = loyalty.points_for(s.entry_props.get("value"), a.per_euro)
        if points == 0:
            return
        after = before + points
        self._event(mid, t, "loyalty_points", "loyalty", touchpoint, {**props, "points": points, "balance": after})
        for tier in loyalty.crossed(before, after, tiers):
            self._event(f"{mid}:{tier.name}", t, "loyalty_tier_reached", "loyalty", touchpoint,
                        {**props, "tier": tier.name, "threshold": tier.points, "balance": after,
                         "reward_fr": tier.reward.fr, "reward_en": tier.reward.en})

    def _event(self, key: str, t, name: str, channel, touchpoint, props: dict) -> None:
        ev = {"event_id": ACT_PREFIX + key, "customer_id": self.id, "timestamp": t, "event": name,
              "channel": channel, "touchpoint": touchpoint,
              "properties": {k: v for k, v in props.items() if v is not None}}
        self.out_events.append(ev)
        # later steps of this walk see it (the balance after this award, a chained condition)
        self.events.append(ev)
        self.events.sort(key=lambda e: e["timestamp"])


def referral_code(customer_id: str) -> str:
    """One code per customer, the same every time it is issued."""
    return code("R", "referral", customer_id)


# -- the engine ---------------------------------------------------------------------------
class Engine:
    def __init__(self, store, scenarios: list[Scenario], settings: Settings, tables: Tables = REAL,
                 write_back: bool = True):
        self.store = store
        self.scenarios = {s.name: s for s in scenarios if s.enabled}
        self.order = {name: i for i, name in enumerate(self.scenarios)}
        self.settings = settings
        self.tables = tables
        self.write_back = write_back
        self.report: RunReport | None = None
        names = set()
        for s in self.scenarios.values():
            names |= s.event_names()
        self.event_names = sorted(names)

    # -- entries ------------------------------------------------------------------------
    def _candidates(self, con, now: dt.datetime, since: dt.datetime | None) -> None:
        """Fill ``_act_cand`` with triggers not entered yet, up to ``now``."""
        T = self.tables
        con.execute("CREATE OR REPLACE TEMP TABLE _act_cand (scenario VARCHAR, customer_id VARCHAR, "
                    "entry_key VARCHAR, ts TIMESTAMP, props VARCHAR)")
        for sc in self.scenarios.values():
            mark = con.execute(f"SELECT seq_done, time_done FROM {T.marks} WHERE scenario = ?", [sc.name]).fetchone()
            seq_done, time_done = mark if mark else (-1, dt.datetime(1, 1, 1))
            sql, params = self._entry_sql(con, sc, now, seq_done, time_done)
            lo = max([x for x in (sc.start, since) if x is not None], default=None)
            bounds = " AND c.ts <= ?" + (" AND c.ts >= ?" if lo else "")
            con.execute(
                f"""INSERT INTO _act_cand SELECT ?, c.customer_id, c.entry_key, c.ts, c.props FROM ({sql}) c
                WHERE c.customer_id IS NOT NULL {bounds} AND NOT EXISTS (SELECT 1 FROM {T.state} s
                  WHERE s.scenario = ? AND s.customer_id = c.customer_id AND s.entry_key = c.entry_key)""",
                [sc.name, *params, now, *([lo] if lo else []), sc.name])

    def _entry_sql(self, con, sc: Scenario, now, seq_done, time_done) -> tuple[str, list]:
        en = sc.entry
        if en.kind == "event":
            cond, params = en.event.sql("e")
            return (f"""SELECT e.customer_id, e.event_id AS entry_key, e."timestamp" AS ts,
                    json_merge_patch(coalesce(e.properties, '{{}}')::JSON,
                                     json_object('value', e.value, 'event', e.event, 'currency', e.currency))::VARCHAR AS props
                    FROM events e WHERE {cond} AND (e._seq > ? OR e."timestamp" > ?)""",
                    [*params, seq_done, time_done])
        if en.kind == "feedback":
            f = en.feedback
            conds, params = ["kind = ?"], [f["kind"]]
            if "min_score" in f:
                conds.append("score >= ?")
                params.append(float(f["min_score"]))
            if "max_score" in f:
                conds.append("score <= ?")
                params.append(float(f["max_score"]))
            return (f"""SELECT customer_id, 'feedback:' || feedback_id AS entry_key, "timestamp" AS ts,
                    json_object('score', score, 'text', text, 'kind', kind, 'touchpoint', touchpoint)::VARCHAR AS props
                    FROM feedback WHERE {' AND '.join(conds)}""", params)
        if en.kind == "inactivity":
            secs = int(duration(en.inactivity).total_seconds())
            return (f"""SELECT customer_id, 'inactive:' || strftime(last, '%Y-%m-%dT%H:%M:%S') AS entry_key,
                    last + to_seconds({secs}) AS ts, json_object('last_activity', last)::VARCHAR AS props
                    FROM (SELECT customer_id, max("timestamp") AS last FROM events
                          WHERE customer_id IS NOT NULL AND NOT starts_with(event_id, '{ACT_PREFIX}')
                            AND "timestamp" <= ? GROUP BY customer_id)""", [now])
        if en.kind == "date":
            return ("""SELECT customer_id, 'date:' || strftime(?::TIMESTAMP, '%Y-%m-%dT%H:%M') AS entry_key,
                    ?::TIMESTAMP AS ts, '{}' AS props FROM customers""", [en.date, en.date])
        if en.kind == "stage":
            (move, stage), = en.stage.items()
            if not _exists(con, "stage_history"):
                raise ConfigError(f"scenario {sc.name}: stage entries need journeys: run `parcours refresh` first")
            col = "entered_at" if move == "enter" else "left_at"
            return (f"""SELECT p.customer_id, 'stage-{move}:{stage}:' || strftime(h.{col}, '%Y-%m-%dT%H:%M:%S')
                    AS entry_key, h.{col} AS ts, json_object('stage', d.id)::VARCHAR AS props
                    FROM stage_history h JOIN persons p USING (person_key) JOIN dim_stage d ON d.stage = h.stage
                    WHERE d.id = ? AND h.{col} IS NOT NULL""", [stage])
        if en.kind == "segment":
            name = en.segment["enter"]
            if not _exists(con, "segment_members"):
                raise ConfigError(f"scenario {sc.name}: no saved segment {name!r}")
            return ("""SELECT p.customer_id, 'segment:' || m.name AS entry_key, ?::TIMESTAMP AS ts,
                    json_object('segment', m.name)::VARCHAR AS props
                    FROM segment_members m JOIN persons p USING (person_id) WHERE m.name = ?""", [now, name])
        return ("""SELECT customer_id, 'api:' || request_key AS entry_key, "at" AS ts, properties AS props
                FROM act_requests WHERE scenario = ?""", [sc.name])

    # -- one run ------------------------------------------------------------------------
    def run(self, now: dt.datetime, since: dt.datetime | None = None, deliver_messages: bool = True,
            max_rounds: int = 10, on_batch=None) -> RunReport:
        # one run at a time per store: the server's ingestion and its scheduler share the
        # connection, and with it the run's temp tables
        with _run_lock(self.store):
            return self._run(now, since, deliver_messages, max_rounds, on_batch)

    def _run(self, now, since, deliver_messages, max_rounds, on_batch) -> RunReport:
        self.report = RunReport(now)
        with self.store.transaction() as con:
            ensure_tables(con, self.tables)
        for _ in range(max_rounds):
            worked = self._round(now, since, on_batch)
            if self.write_back:
                from .referral import credit_referrals

                credited = credit_referrals(self.store, now)
                self.report.events_written += credited
                worked += credited
            if deliver_messages and not self.tables.temp:
                d = deliver(self.store, self.settings)
                self.report.delivery.sent += d.sent
                self.report.delivery.failed += d.failed
                self.report.delivery.retried += d.retried
                self.report.delivery.waiting = d.waiting
            if not worked or not self.write_back:
                break
        return self.report

    def _round(self, now, since, on_batch) -> int:
        T, store = self.tables, self.store
        with store.transaction() as con:
            seq_now = con.execute("SELECT coalesce(max(_seq), -1) FROM events").fetchone()[0]
            self._candidates(con, now, since)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _act_work AS
                SELECT customer_id, (row_number() OVER (ORDER BY customer_id) - 1) // {self.settings.batch_size} AS batch
                FROM (SELECT customer_id FROM _act_cand UNION
                      SELECT customer_id FROM {T.state} WHERE status = 'active'
                        AND (due_at <= ? OR waiting_since IS NOT NULL))""", [now])
            batches = con.execute("SELECT coalesce(max(batch) + 1, 0), count(*) FROM _act_work").fetchone()
        n_batches, n_customers = int(batches[0]), int(batches[1])
        self.report.customers += n_customers
        written = 0
        for b in range(n_batches):
            written += self._batch(b, now)
            if on_batch:
                on_batch(b + 1, n_batches)
        with store.transaction() as con:  # entries up to now are done: move the watermark
            for name in self.scenarios:
                con.execute(f"DELETE FROM {T.marks} WHERE scenario = ?", [name])
                con.execute(f"INSERT INTO {T.marks} VALUES (?, ?, ?)", [name, seq_now, now])
            con.execute("DROP TABLE IF EXISTS _act_cand; DROP TABLE IF EXISTS _act_work")
        return written

    def _batch(self, b: int, now: dt.datetime) -> int:
        """Decide one batch of customers in Python, then write it all in one transaction."""
        T, store = self.tables, self.store
        with store.transaction() as con:
            con.execute("CREATE OR REPLACE TEMP TABLE _act_batch AS SELECT customer_id FROM _act_work WHERE batch = ?", [b])
            attrs = {r[0]: (json.loads(r[1]) if r[1] else {}) for r in con.execute(
                "SELECT customer_id, attributes FROM customers JOIN _act_batch USING (customer_id)").fetchall()}
            cands: dict[str, list] = {}
            for name, cid, key, ts, props in con.execute(
                    "SELECT scenario, customer_id, entry_key, ts, props FROM _act_cand JOIN _act_batch USING (customer_id)"
            ).fetchall():
                cands.setdefault(cid, []).append((ts, name, key, json.loads(props) if props else {}))
            states: dict[str, list[State]] = {}
            for r in con.execute(f"SELECT {', '.join('s.' + c for c in STATE_COLUMNS)} FROM {T.state} s "
                                 "JOIN _act_batch USING (customer_id) WHERE s.scenario IN (SELECT unnest(?))",
                                 [list(self.scenarios)]).fetchall():
                st = State(*r[:-1], json.loads(r[-1]) if r[-1] else {})
                states.setdefault(st.customer_id, []).append(st)
            events: dict[str, list[dict]] = {}
            if self.event_names:
                for cid, ts, name, ch, tp, value, props in con.execute(
                        """SELECT e.customer_id, e."timestamp", e.event, e.channel, e.touchpoint, e.value, e.properties
                        FROM events e JOIN _act_batch USING (customer_id)
                        WHERE e.event IN (SELECT unnest(?)) AND e."timestamp" <= ?
                        ORDER BY e.customer_id, e."timestamp", e._seq""", [self.event_names, now]).fetchall():
                    events.setdefault(cid, []).append({"timestamp": ts, "event": name, "channel": ch, "touchpoint": tp,
                                                       "value": value, "properties": json.loads(props) if props else {}})
            sent: dict[str, list] = {}
            for cid, at in con.execute(f"""SELECT o.customer_id, o."at" FROM {T.outbox} o JOIN _act_batch USING (customer_id)
                                       WHERE o.channel <> 'task'""").fetchall():
                sent.setdefault(cid, []).append(at)
            ids = [r[0] for r in con.execute("SELECT customer_id FROM _act_batch ORDER BY customer_id").fetchall()]
            out_states, out_msgs, out_events, out_log, out_tags = [], [], [], [], []
            for cid in ids:
                c = Customer(self, cid, attrs.get(cid, {}), events.get(cid, []), states.get(cid, []), sent.get(cid, []))
                c.walk(cands.get(cid, []), now)
                out_states += [s.row() for s in c.states if s.dirty]
                out_msgs += c.out_messages
                out_events += c.out_events
                out_log += c.out_log
                if c.out_tags:
                    out_tags.append({"customer_id": cid, "attributes": json.dumps(c.out_tags)})
            self._write(con, out_states, out_msgs, out_log)
            written = 0
            if self.write_back and (out_events or out_tags):
                written = write_back(con, out_events, out_tags)
                self.report.events_written += written
            con.execute("DROP TABLE IF EXISTS _act_batch")
            failpoint("act_batch_before_commit")
        return written + len(out_states)

    def _write(self, con, states, msgs, log) -> None:
        import pandas as pd

        T = self.tables
        if states:
            frame = pd.DataFrame(states, columns=list(STATE_COLUMNS))
            con.register("_act_new", frame)
            con.execute(f"""DELETE FROM {T.state} s WHERE EXISTS (SELECT 1 FROM _act_new n
                WHERE n.scenario = s.scenario AND n.customer_id = s.customer_id AND n.entry_key = s.entry_key)""")
            con.execute(f"INSERT INTO {T.state} SELECT {', '.join(_cast(c) for c in STATE_COLUMNS)} FROM _act_new")
            con.unregister("_act_new")
        if msgs:
            from .outbox import OUTBOX_COLUMNS

            frame = pd.DataFrame(msgs, columns=list(OUTBOX_COLUMNS))
            con.register("_act_msgs", frame)
            con.execute(f"""INSERT INTO {T.outbox} SELECT {', '.join(_cast(c) for c in OUTBOX_COLUMNS)} FROM _act_msgs m
                WHERE NOT EXISTS (SELECT 1 FROM {T.outbox} o WHERE o.message_id = m.message_id)""")
            con.unregister("_act_msgs")
        if log:
            frame = pd.DataFrame(log, columns=["scenario", "customer_id", "entry_key", "step", "at", "action",
                                               "outcome", "reason", "message_id"])
            con.register("_act_log", frame)
            con.execute(f"INSERT INTO {T.log} SELECT * FROM _act_log")
            con.unregister("_act_log")


_TYPES = {"entered_at": "TIMESTAMP", "due_at": "TIMESTAMP", "waiting_since": "TIMESTAMP", "ended_at": "TIMESTAMP",
          "at": "TIMESTAMP", "sent_at": "TIMESTAMP", "step": "VARCHAR", "steps_done": "INTEGER", "attempts": "INTEGER"}


def _cast(col: str) -> str:
    typ = _TYPES.get(col, "VARCHAR")
    if col == "step":  # an integer index in the state table, a step id in the outbox
        return f'"{col}"'
    return f'CAST("{col}" AS {typ})'


_RUN_LOCKS: dict[int, threading.Lock] = {}
_RUN_LOCKS_GUARD = threading.Lock()


def _run_lock(store) -> threading.Lock:
    with _RUN_LOCKS_GUARD:
        return _RUN_LOCKS.setdefault(id(store), threading.Lock())


def _exists(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])


def write_back(con, events: list[dict], tags: list[dict] | None = None) -> int:
    """Import what the engine did as events (and tag changes as customer attributes) through
    the importer, inside the caller's transaction: validation and dedup by event id apply."""
    import pandas as pd

    from ..data import readers
    from ..data.importer import _begin_import, _finish_import, import_staged

    written = 0
    for kind, rows in (("events", events), ("customers", tags or [])):
        if not rows:
            continue
        if kind == "events":
            rows = [{**r, "properties": json.dumps(r["properties"], ensure_ascii=False, default=str)} for r in rows]
        frame = pd.DataFrame(rows)
        import_id = _begin_import(con, "parcours act", kind, "frame")
        staged = readers.stage_frame(con, frame, {})
        try:
            report = import_staged(con, staged, kind, import_id, "parcours act")
        finally:
            readers.drop(con, staged)
        _finish_import(con, import_id, report)
        if kind == "events":
            written += report.imported
    return written


# -- entry points -----------------------------------------------------------------------------
def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def run_due(ws, now: dt.datetime | None = None, deliver_messages: bool = True, on_batch=None) -> RunReport:
    """Enter, walk and deliver everything due up to ``now`` (default: the wall clock), then
    refresh journeys so the actions written back show in journey_view."""
    from .scenario import load_scenarios
    from .settings import load_settings

    from .check import problems

    scenarios, settings = load_scenarios(ws.path), load_settings(ws.path)
    errors, _ = problems(ws.path, scenarios, settings)
    if errors:
        raise ConfigError("\n".join(errors))
    engine = Engine(ws.store, scenarios, settings)
    report = engine.run(now or _utcnow(), deliver_messages=deliver_messages, on_batch=on_batch)
    if report.events_written and (ws.path / "journey.yaml").exists():
        ws.refresh()
    return report


def on_ingest(ws, now: dt.datetime | None = None) -> RunReport:
    """What the HTTP server calls after an ingestion: entries fire, due steps run."""
    return run_due(ws, now)


def request_entry(store, scenario: str, customer_id: str, at: dt.datetime, key: str,
                  properties: dict | None = None) -> None:
    """An API-call entry: the customer enters ``scenario`` on the next run (``key`` dedupes)."""
    with store.transaction() as con:
        ensure_tables(con)
        con.execute("""INSERT INTO act_requests SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (
            SELECT 1 FROM act_requests WHERE scenario = ? AND request_key = ?)""",
                    [scenario, customer_id, at, key, json.dumps(properties or {}), scenario, key])


__all__ = ["Engine", "RunReport", "Tables", "REAL", "SIMULATION", "run_due", "on_ingest", "request_entry",
           "write_back", "render", "next_in_window", "after_quiet", "referral_code", "ensure_tables"]
