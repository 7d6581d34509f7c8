"""Fixtures for the analyses: a store whose ``journey_view`` is a table built from event dicts."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from parcours.data.store import Store

#: the columns of the journey layer's view, in order, with their DuckDB types.
JOURNEY_COLUMNS = {
    "person_id": "VARCHAR", "account_id": "VARCHAR", "customer_id": "VARCHAR",
    "anonymous_id": "VARCHAR", "event_id": "VARCHAR", "timestamp": "TIMESTAMP",
    "event": "VARCHAR", "channel": "VARCHAR", "touchpoint": "VARCHAR", "stage": "VARCHAR",
    "stage_index": "SMALLINT", "value": "DOUBLE", "currency": "VARCHAR", "properties": "JSON",
    "seq": "BIGINT",
}
T0 = dt.datetime(2024, 3, 4, 8, 0)  # a Monday


def complete(events: list[dict]) -> list[dict]:
    """Fill the defaults a test leaves out: ids, seq in list order, customer_id = person_id."""
    out = []
    for i, e in enumerate(events):
        e = {"seq": i, "event_id": f"e{i}", **e}
        e.setdefault("customer_id", e.get("person_id"))
        out.append(e)
    return out


def load_journey(store: Store, events: list[dict]) -> Store:
    """Create (or replace) the ``journey_view`` table of ``store`` from event dicts."""
    rows = complete(events)
    frame = pd.DataFrame(
        [
            {c: (json.dumps(e[c]) if c == "properties" and e.get(c) is not None else e.get(c)) for c in JOURNEY_COLUMNS}
            for e in rows
        ],
        columns=list(JOURNEY_COLUMNS),
    )
    cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in JOURNEY_COLUMNS.items())
    with store.transaction() as con:
        con.register("_journey_rows", frame)
        con.execute(f"CREATE OR REPLACE TABLE journey_view AS SELECT {cols} FROM _journey_rows")
        con.unregister("_journey_rows")
    return store


def load_customers(store: Store, customers: list[dict]) -> None:
    with store.transaction() as con:
        con.execute("DELETE FROM customers")
        for c in customers:
            con.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?)",
                [c["customer_id"], c.get("account_id"), c.get("created_at"), json.dumps(c.get("attributes") or {})],
            )


@pytest.fixture
def journey_store(tmp_path):
    """A function: events -> an open Store holding them as ``journey_view``."""
    stores = []

    def make(events: list[dict]) -> Store:
        store = Store(tmp_path / f"s{len(stores)}.duckdb")
        stores.append(store)
        return load_journey(store, events)

    yield make
    for s in stores:
        s.close()


class scratch_store:
    """A throwaway store for hypothesis examples (function-scoped fixtures do not reset)."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory()
        self.store = Store(Path(self._dir.name) / "s.duckdb")

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc):
        self.store.close()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One store per test module, for property tests that reload ``journey_view`` per example."""
    store = Store(tmp_path_factory.mktemp("analysis") / "s.duckdb")
    yield store
    store.close()


class refreshed_workspace:
    """A throwaway workspace whose events went through import, stitching and stage assignment,
    so that ``journey_events`` (the codes engines' table) and ``journey_view`` both exist.

    ``events``: dicts with person_id (imported as customer_id), timestamp (naive UTC), event
    and optionally channel, touchpoint, value.
    """

    def __init__(self, events: list[dict]):
        from parcours.data.identity import stitch
        from parcours.data.importer import import_frame
        from parcours.journey.assign import refresh
        from parcours.workspace import Workspace

        self._dir = tempfile.TemporaryDirectory()
        self.ws = Workspace.init(Path(self._dir.name) / "ws")
        if events:
            import_frame(self.ws.store, pd.DataFrame([{
                "event_id": f"e{i}", "customer_id": e["person_id"],
                "timestamp": e["timestamp"].replace(tzinfo=dt.timezone.utc), "event": e["event"],
                "channel": e.get("channel"), "touchpoint": e.get("touchpoint"), "value": e.get("value"),
            } for i, e in enumerate(events)]))
        stitch(self.ws.store)
        refresh(self.ws.store, self.ws.model, full=True)

    def __enter__(self) -> Store:
        return self.ws.store

    def __exit__(self, *exc):
        self.ws.close()
        self._dir.cleanup()
