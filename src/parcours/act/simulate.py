"""Replay history through one scenario without sending anything: who would have entered,
been contacted, reached the goal. The engine is the same; its state lives in temp tables
and nothing is written back or delivered."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..analysis._common import as_time
from ..errors import AnalysisError
from .engine import SIMULATION, Engine
from .lift import lift
from .scenario import find_scenario, load_scenarios
from .settings import load_settings


@dataclass
class SimulationResult:
    scenario: str
    since: dt.datetime | None
    until: dt.datetime
    entered: int = 0
    customers: int = 0
    holdout: int = 0
    contacted: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    goal: dict | None = None

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat(), "entered": self.entered, "customers": self.customers,
                "holdout": self.holdout, "contacted": self.contacted, "messages": self.messages,
                "suppressed": self.suppressed, "status": self.status, "goal": self.goal}

    def to_frame(self):
        import pandas as pd

        rows = [("entered", self.entered), ("customers", self.customers), ("holdout", self.holdout),
                ("contacted", self.contacted)]
        rows += [(f"messages.{k}", v) for k, v in sorted(self.messages.items())]
        rows += [(f"suppressed.{k}", v) for k, v in sorted(self.suppressed.items())]
        rows += [(f"status.{k}", v) for k, v in sorted(self.status.items())]
        if self.goal:
            rows += [("goal.treated_rate", self.goal["treated"]["rate"]),
                     ("goal.holdout_rate", self.goal["holdout"]["rate"])]
        return pd.DataFrame(rows, columns=["measure", "value"], dtype=object)


def simulate(ws, name: str, since=None, until=None) -> SimulationResult:
    """Entries with ``since <= time <= until`` (until defaults to the last event)."""
    sc = find_scenario(load_scenarios(ws.path), name)
    store = ws.store
    lo = as_time(since)
    hi = as_time(until) or store.scalar('SELECT max("timestamp") FROM events')
    if hi is None:
        raise AnalysisError("no events to replay")
    if lo is not None and lo > hi:
        raise AnalysisError(f"--since {lo} is after --until {hi}")
    T = SIMULATION
    engine = Engine(store, [sc.model_copy(update={"enabled": True})], load_settings(ws.path), tables=T,
                    write_back=False)
    try:
        engine.run(hi, since=lo, deliver_messages=False)
        res = SimulationResult(sc.name, lo, hi)
        res.entered, res.customers, res.holdout = store.fetch(
            f"SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE variant IN ('holdout', 'control')) "
            f"FROM {T.state}")[0]
        res.contacted = store.scalar(f"SELECT count(DISTINCT customer_id) FROM {T.outbox}")
        res.messages = dict(store.fetch(f"SELECT channel, count(*) FROM {T.outbox} GROUP BY 1 ORDER BY 1"))
        res.suppressed = dict(store.fetch(
            f"SELECT reason, count(*) FROM {T.log} WHERE outcome = 'suppressed' GROUP BY 1 ORDER BY 1"))
        res.status = dict(store.fetch(f"SELECT status, count(*) FROM {T.state} GROUP BY 1 ORDER BY 1"))
        if sc.goal is not None:
            res.goal = lift(store, sc, as_of=hi, tables=T).to_dict()
        return res
    finally:
        with store.transaction() as con:
            for t in (T.state, T.outbox, T.log, T.marks):
                con.execute(f"DROP TABLE IF EXISTS temp.{t}")


__all__ = ["simulate", "SimulationResult"]
