"""Import: every format with bad rows, idempotence, atomicity under SIGKILL."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.data.importer import import_file, import_frame, list_rejects
from parcours.data.store import Store
from parcours.errors import ConfigError, DataError

UTC = dt.timezone.utc


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def rejects_of(store) -> list[tuple]:
    return store.fetch('SELECT "row", "column", reason FROM rejects ORDER BY import_id, "row" NULLS FIRST, "column"')


def test_list_rejects_frame(store, tmp_path):
    f = write_csv(tmp_path / "e.csv", ["customer_id", "timestamp", "event"], [["c1", "soon", "a"]])
    import_file(store, f)
    frame = list_rejects(store)
    assert frame[["file", "row", "column", "reason"]].values.tolist() == [
        [str(f), 2, "timestamp", "unparseable timestamp: soon"]]


def events(store) -> list[tuple]:
    return store.fetch(
        "SELECT event_id, customer_id, anonymous_id, timestamp, event, value, currency, properties "
        "FROM events ORDER BY _seq"
    )


# -- CSV ------------------------------------------------------------------------------------


def test_csv_bad_rows_are_reported_and_good_rows_imported(store, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text(
        "event_id,customer_id,anonymous_id,timestamp,event,value,currency,color\n"
        "e1,c1,,2024-01-01T10:00:00+02:00,page_view,1.5,eur,red\n"  # line 2: good, offset applied
        "e2,c2,,notatime,purchase,abc,EUR,\n"  # line 3: timestamp and value wrong
        "e3,,,2024-01-01,page_view,,,\n"  # line 4: nobody
        "e4,c4,,2024-01-02,purchase,3,EUR,blue,extra\n"  # line 5: too many columns
        "e5,c5,,2024-01-02 08:00,purchase,3,EURO,\n"  # line 6: bad currency
        "e6,c6,,1704103200,signup,,,\n"  # line 7: epoch seconds
        "e7,c7,,1704103200000,,,,\n",  # line 8: no event name
        encoding="utf-8",
    )
    report = import_file(store, f)
    assert report.to_dict() == {"imported": 2, "rejected": 5, "duplicates": 0}
    assert rejects_of(store) == [
        (3, "timestamp", "unparseable timestamp: notatime"),
        (3, "value", "not a number: abc"),
        (4, "customer_id|anonymous_id", "no customer_id nor anonymous_id: the row names nobody"),
        (5, None, "too many columns: Expected Number of Columns: 8 Found: 9"),
        (6, "currency", "too long: 4 characters (at most 3)"),
        (6, "currency", "not an ISO 4217 currency code: EURO"),
        (8, "event", "required value is empty"),
    ]
    assert events(store) == [
        ("e1", "c1", None, dt.datetime(2024, 1, 1, 8, 0), "page_view", 1.5, "EUR", '{"color":"red"}'),
        ("e6", "c6", None, dt.datetime(2024, 1, 1, 10, 0), "signup", None, None, None),
    ]
    # the raw row is kept with each reject
    raw = store.scalar('SELECT raw FROM rejects WHERE "row" = 3 LIMIT 1')
    assert json.loads(raw)["timestamp"] == "notatime"


def test_csv_naive_times_use_the_import_time_zone(store, tmp_path):
    f = write_csv(tmp_path / "e.csv", ["customer_id", "timestamp", "event"],
                  [["c1", "2024-07-01 12:00:00", "a"], ["c1", "2024-01-01 12:00", "b"],
                   ["c1", "2024-07-01T12:00:00Z", "c"]])
    import_file(store, f, tz="Europe/Paris")
    got = store.fetch("SELECT event, timestamp FROM events ORDER BY event")
    assert got == [("a", dt.datetime(2024, 7, 1, 10, 0)), ("b", dt.datetime(2024, 1, 1, 11, 0)),
                   ("c", dt.datetime(2024, 7, 1, 12, 0))]
    with pytest.raises(ConfigError, match="time zone"):
        import_file(store, f, tz="Mars/Olympus")


def test_wrong_encoding_is_rejected_per_line(store, tmp_path):
    f = tmp_path / "latin1.csv"
    f.write_bytes("customer_id,timestamp,event\nc1,2024-01-01,a\nc\xe9,2024-01-01,b\nc3,2024-01-01,c\n"
                  .encode("latin-1"))
    report = import_file(store, f)
    assert report.to_dict() == {"imported": 2, "rejected": 1, "duplicates": 0}
    [(row, column, reason)] = rejects_of(store)
    assert row == 3 and column == "customer_id" and reason.startswith("invalid encoding")


def test_oversized_fields_are_rejected(store, tmp_path):
    f = write_csv(tmp_path / "e.csv", ["customer_id", "timestamp", "event"],
                  [["c" * 300, "2024-01-01", "a"], ["c2", "2024-01-01", "e" * 257], ["c3", "2024-01-01", "ok"]])
    assert import_file(store, f).to_dict() == {"imported": 1, "rejected": 2, "duplicates": 0}
    assert rejects_of(store) == [
        (2, "customer_id", "too long: 300 characters (at most 256)"),
        (3, "event", "too long: 257 characters (at most 256)"),
    ]


def test_empty_file_and_header_only(store, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    report = import_file(store, empty)
    assert report.to_dict() == {"imported": 0, "rejected": 1, "duplicates": 0}
    assert rejects_of(store) == [(None, None, "empty file")]
    header = tmp_path / "header.csv"
    header.write_text("customer_id,timestamp,event\n")
    assert import_file(store, header).to_dict() == {"imported": 0, "rejected": 0, "duplicates": 0}


def test_missing_required_column_rejects_every_row(store, tmp_path):
    f = write_csv(tmp_path / "e.csv", ["customer_id", "event"], [["c1", "a"], ["c2", "b"]])
    assert import_file(store, f).to_dict() == {"imported": 0, "rejected": 2, "duplicates": 0}
    assert {r[1:] for r in rejects_of(store)} == {("timestamp", "required column 'timestamp' is missing from the source")}


def test_column_mapping(store, tmp_path):
    f = write_csv(tmp_path / "e.csv", ["userId", "ts", "name"], [["c1", "2024-01-01", "a"]])
    report = import_file(store, f, mapping=["userId=customer_id", "ts=timestamp", "name=event"])
    assert report.imported == 1
    assert store.fetch("SELECT customer_id, event FROM events") == [("c1", "a")]
    with pytest.raises(ConfigError):
        import_file(store, f, mapping=["userId"])


def test_unknown_kind_and_missing_file(store, tmp_path):
    with pytest.raises(ConfigError, match="unknown kind"):
        import_file(store, tmp_path / "x.csv", kind="orders")
    with pytest.raises(DataError, match="no such file"):
        import_file(store, tmp_path / "x.csv")
    with pytest.raises(DataError, match="unknown file format"):
        import_file(store, tmp_path / "x.xlsx")


# -- JSON Lines --------------------------------------------------------------------------------


def test_jsonl_broken_lines_and_types(store, tmp_path):
    f = tmp_path / "e.jsonl"
    lines = [
        json.dumps({"event_id": "e1", "customer_id": "c1", "timestamp": "2024-01-01T10:00:00Z",
                    "event": "page_view", "color": "red", "properties": {"a": 1}}),
        "{broken",
        json.dumps({"event_id": "e3", "anonymous_id": "a3", "timestamp": 1704103200, "event": "x", "value": "abc"}),
        "",
        "[1, 2]",
        json.dumps({"event_id": "e6", "anonymous_id": "a6", "timestamp": "2024-01-02T00:00:00+01:00",
                    "event": "y", "value": 12, "properties": "not an object"}),
        json.dumps({"event_id": "e7", "anonymous_id": "a7", "timestamp": "2024-01-02", "event": "z", "value": 2.5}),
    ]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(store, f)
    assert report.to_dict() == {"imported": 2, "rejected": 4, "duplicates": 0}
    assert rejects_of(store) == [
        (2, None, "broken JSON: the line does not parse"),
        (3, "value", "not a number: abc"),
        (5, None, "not a JSON object"),
        (6, "properties", "invalid JSON: not an object"),
    ]
    assert events(store) == [
        ("e1", "c1", None, dt.datetime(2024, 1, 1, 10), "page_view", None, None, '{"color":"red","a":1}'),
        ("e7", None, "a7", dt.datetime(2024, 1, 2), "z", 2.5, None, None),
    ]


# -- Parquet and data frames ---------------------------------------------------------------------


def test_parquet_native_types_and_bad_rows(store, tmp_path):
    table = pa.table({
        "event_id": ["p1", "p2", "p3", None],
        "customer_id": ["c1", None, "c3", "c4"],
        "timestamp": pa.array([dt.datetime(2024, 1, 1, 12, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC),
                               None, dt.datetime(2024, 1, 3, 1, 30, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "event": ["a", "b", "c", "d"],
        "value": ["1.5", "2", "x", None],
    })
    f = tmp_path / "e.parquet"
    pq.write_table(table, f)
    report = import_file(store, f)
    assert report.to_dict() == {"imported": 2, "rejected": 2, "duplicates": 0}
    assert rejects_of(store) == [
        (2, "customer_id|anonymous_id", "no customer_id nor anonymous_id: the row names nobody"),
        (3, "timestamp", "required value is empty"),
        (3, "value", "not a number: x"),
    ]
    got = store.fetch("SELECT event_id, timestamp, value FROM events ORDER BY _seq")
    assert got[0] == ("p1", dt.datetime(2024, 1, 1, 12), 1.5)
    assert got[1][0].startswith("h:") and got[1][1:] == (dt.datetime(2024, 1, 3, 1, 30), None)


@pytest.mark.parametrize("flavour", ["pandas", "polars", "arrow", "list"])
def test_frames_of_every_library(store, flavour):
    rows = [{"customer_id": "c1", "timestamp": dt.datetime(2024, 1, 1, 9, tzinfo=UTC), "event": "a", "value": 1.0},
            {"customer_id": None, "timestamp": dt.datetime(2024, 1, 1, 10, tzinfo=UTC), "event": "b", "value": 2.0}]
    frame = {"pandas": pd.DataFrame(rows), "polars": pl.DataFrame(rows), "arrow": pa.Table.from_pylist(rows),
             "list": rows}[flavour]
    report = import_frame(store, frame)
    assert report.to_dict() == {"imported": 1, "rejected": 1, "duplicates": 0}
    assert store.fetch("SELECT customer_id, timestamp, event, value FROM events") == [
        ("c1", dt.datetime(2024, 1, 1, 9), "a", 1.0)]
    assert rejects_of(store)[0][:2] == (2, "customer_id|anonymous_id")
    assert import_frame(store, frame).to_dict() == {"imported": 0, "rejected": 1, "duplicates": 1}


# -- other kinds --------------------------------------------------------------------------------


def test_feedback_kinds_and_scales(store, tmp_path):
    f = write_csv(tmp_path / "f.csv", ["customer_id", "timestamp", "kind", "score", "text"], [
        ["c1", "2024-01-01", "NPS", "9", "Super"],
        ["c2", "2024-01-01", "nps", "11", ""],
        ["c3", "2024-01-01", "poll", "3", ""],
        ["c4", "2024-01-01", "csat", "0", ""],
        ["c5", "2024-01-01", "verbatim", "", "Livraison en retard"],
    ])
    assert import_file(store, f, kind="feedback").to_dict() == {"imported": 2, "rejected": 3, "duplicates": 0}
    assert rejects_of(store) == [
        (3, "score", "score 11.0 outside the nps scale 0-10"),
        (4, "kind", "unknown kind poll (expected one of nps, csat, ces, review, verbatim, complaint)"),
        (5, "score", "score 0.0 outside the csat scale 1-5"),
    ]
    assert store.fetch("SELECT customer_id, kind, score FROM feedback ORDER BY customer_id") == [
        ("c1", "nps", 9.0), ("c5", "verbatim", None)]
    assert import_file(store, f, kind="feedback").to_dict() == {"imported": 0, "rejected": 3, "duplicates": 2}


def test_customers_merge_attributes(store, tmp_path):
    f1 = write_csv(tmp_path / "c1.csv", ["customer_id", "created_at", "attributes"], [
        ["c1", "2024-01-01", json.dumps({"segment": "b2c", "country": "FR"})],
        ["c2", "2024-01-02", json.dumps({"segment": "b2b"})],
    ])
    f2 = write_csv(tmp_path / "c2.csv", ["customer_id", "account_id", "attributes"], [
        ["c1", "", json.dumps({"country": "BE", "age_band": "25-34"})],
        ["c2", "acme", json.dumps({"segment": "b2b"})],
        ["c3", "", "not json"],
    ])
    assert import_file(store, f1, kind="customers").imported == 2
    report = import_file(store, f2, kind="customers")
    assert report.to_dict() == {"imported": 2, "rejected": 1, "duplicates": 0}
    got = {r[0]: (r[1], r[2], json.loads(r[3])) for r in store.fetch("SELECT * FROM customers")}
    assert got == {
        "c1": (None, dt.datetime(2024, 1, 1), {"segment": "b2c", "country": "BE", "age_band": "25-34"}),
        "c2": ("acme", dt.datetime(2024, 1, 2), {"segment": "b2b"}),
    }
    assert import_file(store, f2, kind="customers").to_dict() == {"imported": 0, "rejected": 1, "duplicates": 2}


def test_spend_identical_rows_once(store, tmp_path):
    f = write_csv(tmp_path / "s.csv", ["date", "channel", "campaign", "amount", "currency"], [
        ["2024-01-01", "search", "brand", "100.5", "EUR"], ["2024-01-01", "social", "", "50", "EUR"],
        ["2024-13-01", "social", "", "50", "EUR"], ["2024-01-02", "", "x", "5", "EUR"],
    ])
    assert import_file(store, f, kind="spend").to_dict() == {"imported": 2, "rejected": 2, "duplicates": 0}
    assert rejects_of(store) == [(4, "date", "unparseable date: 2024-13-01"), (5, "channel", "required value is empty")]
    assert import_file(store, f, kind="spend").to_dict() == {"imported": 0, "rejected": 2, "duplicates": 2}


# -- idempotence (property) ----------------------------------------------------------------------

good_ts = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0).isoformat())
cell = {
    "customer_id": st.one_of(st.just(""), st.sampled_from(["c1", "c2", "c3"]), st.just("x" * 300)),
    "anonymous_id": st.one_of(st.just(""), st.sampled_from(["a1", "a2"])),
    "timestamp": st.one_of(good_ts, st.sampled_from(["", "yesterday", "2024-02-30"])),
    "event": st.one_of(st.sampled_from(["view", "buy"]), st.just("")),
    "value": st.one_of(st.just(""), st.integers(-5, 5).map(str), st.just("n/a")),
}


def reference_errors(row: dict) -> set[str]:
    """Plain-Python statement of the validation rules, per column."""
    bad = set()
    if len(row["customer_id"]) > 256:
        bad.add("customer_id")
    if not row["customer_id"] and not row["anonymous_id"]:
        bad.add("customer_id|anonymous_id")
    try:
        if not row["timestamp"]:
            raise ValueError
        dt.datetime.fromisoformat(row["timestamp"])
    except ValueError:
        bad.add("timestamp")
    if not row["event"]:
        bad.add("event")
    if row["value"]:
        try:
            float(row["value"])
        except ValueError:
            bad.add("value")
    return bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(cell), max_size=12), split=st.integers(0, 12))
def test_import_matches_reference_and_is_idempotent(tmp_path_factory, rows, split):
    tmp = tmp_path_factory.mktemp("prop")
    store = Store(tmp / "s.duckdb")
    cols = list(cell)
    f = write_csv(tmp / "e.csv", cols, [[r[c] for c in cols] for r in rows])
    # importing a prefix first, then the whole file, must end like importing the whole file once
    import_file(store, write_csv(tmp / "part.csv", cols, [[r[c] for c in cols] for r in rows[:split]]))
    import_file(store, f)
    report = import_file(store, f)
    expected_bad = {i + 2: reference_errors(r) for i, r in enumerate(rows) if reference_errors(r)}
    got_bad: dict[int, set] = {}
    for row, column, _ in store.fetch("SELECT \"row\", \"column\", reason FROM rejects WHERE file = ?", [str(f)]):
        got_bad.setdefault(row, set()).add(column)
    # each import of f reports the same rejects: compare one import's worth
    assert {k: v for k, v in got_bad.items()} == expected_bad
    good = [r for r in rows if not reference_errors(r)]
    distinct = {(r["customer_id"], r["anonymous_id"], r["timestamp"], r["event"], r["value"]) for r in good}
    assert store.scalar("SELECT count(*) FROM events") == len(distinct)
    assert report.imported == 0 and report.duplicates == len(good)
    store.close()


# -- atomicity -------------------------------------------------------------------------------------

IMPORT_SCRIPT = """
import sys
from parcours.data.store import Store
from parcours.data.importer import import_file
s = Store(sys.argv[1])
print("started", flush=True)
import_file(s, sys.argv[2])
print("finished", flush=True)
"""


def _big_csv(path: Path, n: int, prefix: str) -> Path:
    with path.open("w") as f:
        f.write("event_id,customer_id,timestamp,event,value\n")
        for i in range(n):
            f.write(f"{prefix}{i},c{i % 1000},2024-01-01T{i % 24:02d}:00:00Z,view,{i % 7}\n")
    return path


def _state(db: Path) -> tuple:
    s = Store(db)
    try:
        return (s.scalar("SELECT count(*) FROM events"), s.scalar("SELECT count(*) FROM imports"),
                s.scalar("SELECT count(*) FROM rejects"), s.scalar("SELECT coalesce(sum(value), 0) FROM events"))
    finally:
        s.close()


@pytest.mark.parametrize("point", ["after_validate", "before_commit"])
def test_sigkill_at_a_failpoint_leaves_store_unchanged(tmp_path, point):
    db = tmp_path / "s.duckdb"
    s = Store(db)
    import_file(s, _big_csv(tmp_path / "first.csv", 1000, "a"))
    s.close()
    before = _state(db)
    env = dict(os.environ, PARCOURS_FAILPOINT=point)
    proc = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(db), str(_big_csv(tmp_path / "b.csv", 5000, "b"))],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _state(db) == before
    s = Store(db)  # the next import works and takes the whole file
    assert import_file(s, tmp_path / "b.csv").imported == 5000
    s.close()
    assert _state(db)[0] == 6000


def test_sigkill_at_a_random_moment_is_all_or_nothing(tmp_path):
    db = tmp_path / "s.duckdb"
    Store(db).close()
    big = _big_csv(tmp_path / "big.csv", 400_000, "z")
    before = _state(db)
    proc = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(db), str(big)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    after = _state(db)
    assert after == before or after[0] == 400_000  # never half a file
    s = Store(db)
    report = import_file(s, big)
    s.close()
    assert _state(db)[0] == 400_000
    assert report.imported + report.duplicates == 400_000


@pytest.mark.parametrize("name", ["e.csv", "e.jsonl", "e.parquet"])
def test_empty_file_in_every_format(store, tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"")
    assert import_file(store, f).to_dict() == {"imported": 0, "rejected": 1, "duplicates": 0}
    assert rejects_of(store) == [(None, None, "empty file")]


def test_jsonl_wrong_encoding_keeps_other_lines(store, tmp_path):
    f = tmp_path / "e.jsonl"
    good = json.dumps({"customer_id": "c1", "timestamp": "2024-01-01", "event": "a"}).encode()
    bad = '{"customer_id": "c\xe9", "timestamp": "2024-01-01", "event": "b"}'.encode("latin-1")
    last = json.dumps({"customer_id": "c3", "timestamp": "2024-01-03", "event": "c"}).encode()
    f.write_bytes(good + b"\n" + bad + b"\n" + last + b"\n")
    assert import_file(store, f).to_dict() == {"imported": 2, "rejected": 1, "duplicates": 0}
    [(row, _, reason)] = rejects_of(store)
    assert row == 2 and reason.startswith("invalid encoding")
    assert store.fetch("SELECT event FROM events ORDER BY _seq") == [("a",), ("c",)]


def test_corrupt_parquet_is_a_clear_data_error(store, tmp_path):
    f = tmp_path / "e.parquet"
    f.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        import_file(store, f)
    assert store.scalar("SELECT count(*) FROM imports") == 0  # the failed file left nothing
