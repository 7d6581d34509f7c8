"""The benchmark's funnel and transition matrix in retentioneering and PM4Py, beside parcours.

    make bench-others-venv     # .venv-others: retentioneering and pm4py (requirements-others.txt)
    .venv-others/bin/python bench/bench_others.py --people 470000 --runs 3
    .venv-others/bin/python bench/bench_others.py --people 4700000 --runs 0 --timeout 900

Both libraries read a pandas frame, so the event log of a cached workspace (``bench/out/
ws-<people>``, see ``_workspace.py``) is exported once to ``bench/out/eventlog-<people>.parquet``
(person_id, event, timestamp; ordered by person, time, seq) by the main venv's python, which
also measures parcours. Each (library, question) runs in its own child process: it reads the
parquet, prepares the library's object (retentioneering ``Eventstream``; PM4Py
``format_dataframe``), timed apart as "load + prepare", then answers the question (one
warm-up and the median of ``--runs``; ``--runs 0``: once). Peak RSS is the child's
``VmHWM``. A child past ``--timeout`` seconds or ``--mem-limit`` GiB of RSS (the machine
is shared) is killed and reported as such, with the phase it was in. A transition matrix that
differs from parcours's makes the exit code 1; a funnel that differs is reported only (ties
in time are taken differently, see below).

The questions, as each library states them:

- 5-step funnel: retentioneering's ``funnel_data`` counts paths having events
  i1 < i2 < ... < ik (row positions after its sort by path, time) matching the first k steps,
  with no time window. PM4Py's nearest: ``filter_eventually_follows_relation`` with the
  k-step chain (its LTL "eventually follows" over row positions), cases counted, no window.
  parcours is asked the same with a window longer than the data (10 years); it takes events
  at the same timestamp in step order, where both libraries take them in row (seq) order.
- transition matrix: retentioneering's ``transition_graph_data`` with ``count`` and
  ``unique_paths`` (its synthetic path_start / path_end rows left out); PM4Py's
  ``discover_dfg`` (count) and its pandas DFG with ``keep_once_per_case`` (cases). Both count
  consecutive pairs of a customer's events, as ``paths.transitions`` does.
- stage KPIs: neither library knows journey stages; nothing is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _workspace import peak_gib  # bench/ is the script's folder, first on sys.path

HERE = Path(__file__).parent
OUT = HERE / "out"
STEPS = ["product_view", "add_to_cart", "checkout_start", "payment", "purchase"]
PREPARED = "prepared in"  # the child's stderr line once its data is loaded
NO_WINDOW = "3650d"  # longer than any generated data: the libraries' funnels have no window
LIBRARIES = ["parcours", "retentioneering", "pm4py"]
QUESTIONS = ["funnel", "transitions"]
MEANING = {
    ("funnel", "parcours"): f"funnel(window={NO_WINDOW!r}), ties in step order",
    ("funnel", "retentioneering"): "funnel_data: ordered subsequence of rows, no window",
    ("funnel", "pm4py"): "filter_eventually_follows_relation(k steps), no window",
    ("transitions", "parcours"): "paths.transitions",
    ("transitions", "retentioneering"): "transition_graph_data count + unique_paths",
    ("transitions", "pm4py"): "discover_dfg + DFG keep_once_per_case",
}


def eventlog(people: int) -> Path:
    return OUT / f"eventlog-{people}.parquet"


# -- in the main venv: the export and parcours ---------------------------------------------
def export(people: int) -> dict:
    """Write the event log once (rows in the store's order); the parquet is reused after."""
    from parcours.workspace import Workspace

    path = eventlog(people)
    ws = Workspace.open(OUT / f"ws-{people}", read_only=True)
    try:
        events = ws.store.scalar("SELECT count(*) FROM journey_events")
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            ws.store.fetch(f"""COPY (
                SELECT e.person_key AS person_id, d.name AS event, make_timestamp(e.ts) AS timestamp
                FROM journey_events e JOIN dim_event d ON d.code = e.event_code
                ORDER BY e.person_key, e.ts, e.seq) TO '{tmp}' (FORMAT parquet)""")
            tmp.rename(path)
    finally:
        ws.close()
    return {"events": events, "path": str(path)}


def parcours_question(people: int, name: str):
    """(prepare, answer): parcours reads its store, nothing to load beforehand."""
    from parcours.analysis.funnel import funnel
    from parcours.analysis.paths import transitions
    from parcours.workspace import Workspace

    def prepare():
        return Workspace.open(OUT / f"ws-{people}", read_only=True)

    answers = {
        "funnel": lambda ws: [s.count for s in funnel(ws.store, STEPS, window=NO_WINDOW).steps],
        "transitions": lambda ws: sorted([t["from"], t["to"], t["count"], t["customers"]]
                                         for t in transitions(ws.store).transitions),
    }
    return prepare, answers[name]


# -- in the bench venv: the two libraries ---------------------------------------------------
def read_log(people: int):
    import pandas as pd

    return pd.read_parquet(eventlog(people))


def retentioneering_question(people: int, name: str):
    from retentioneering import Eventstream

    def prepare():
        return Eventstream(read_log(people), schema={"path_cols": ["person_id"], "event_col": "event",
                                                     "timestamp_col": "timestamp", "custom_cols": []})

    def funnel(stream):
        return [s["unique_paths"] for s in stream.funnel_data(steps=STEPS)["steps"]]

    def transitions(stream):
        count = stream.transition_graph_data(edge_weight="count")
        paths = stream.transition_graph_data(edge_weight="unique_paths")
        ends = ["path_start", "path_end"]  # synthetic boundary events, not transitions
        count = count.drop(index=ends, columns=ends, errors="ignore").stack()
        paths = paths.drop(index=ends, columns=ends, errors="ignore").stack()
        return sorted([str(a), str(b), int(n), int(paths[(a, b)])] for (a, b), n in count.items() if n > 0)

    return prepare, {"funnel": funnel, "transitions": transitions}[name]


def pm4py_question(people: int, name: str):
    import pm4py
    from pm4py.algo.discovery.dfg.adapters.pandas.df_statistics import get_dfg_graph

    keys = {"case_id_key": "case:concept:name", "activity_key": "concept:name",
            "timestamp_key": "time:timestamp"}

    def prepare():
        return pm4py.format_dataframe(read_log(people), case_id="person_id", activity_key="event",
                                      timestamp_key="timestamp")

    def funnel(df):
        """Each step filters the cases kept by the previous one (a case is kept whole)."""
        df = pm4py.filter_event_attribute_values(df, "concept:name", [STEPS[0]], level="case",
                                                 case_id_key=keys["case_id_key"])
        counts = [df["case:concept:name"].nunique()]
        for k in range(2, len(STEPS) + 1):
            df = pm4py.filter_eventually_follows_relation(df, [tuple(STEPS[:k])], **keys)
            counts.append(df["case:concept:name"].nunique())
        return [int(c) for c in counts]

    def transitions(df):
        dfg, _, _ = pm4py.discover_dfg(df, **keys)
        cases = get_dfg_graph(df, activity_key=keys["activity_key"], case_id_glue=keys["case_id_key"],
                              timestamp_key=keys["timestamp_key"], keep_once_per_case=True)
        return sorted([str(a), str(b), int(n), int(cases[(a, b)])] for (a, b), n in dfg.items())

    return prepare, {"funnel": funnel, "transitions": transitions}[name]


def measure(people: int, library: str, name: str, runs: int) -> dict:
    """``runs`` = 0: one run and no warm-up (for 100M events)."""
    prepare, answer = {"parcours": parcours_question, "retentioneering": retentioneering_question,
                       "pm4py": pm4py_question}[library](people, name)
    t0 = time.perf_counter()
    obj = prepare()
    load = time.perf_counter() - t0
    print(f"{PREPARED} {load:.2f}", file=sys.stderr, flush=True)  # for the parent, if this child is killed
    if runs:
        out = answer(obj)  # warm-up
    times = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter()
        out = answer(obj)
        times.append(time.perf_counter() - t0)
    rss = peak_gib()
    return {"load_s": load, "median_s": statistics.median(times), "times": times, "peak_gib": rss,
            "result": out}


# -- the parent: children under a time and memory limit -------------------------------------
def rss_gib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def child(python: str, args: list[str], timeout: float, mem_limit: float) -> dict:
    """Run ``python bench_others.py ARGS``; its last stdout line is JSON, or say why it stopped."""
    env = dict(os.environ, RETENTIONEERING_NO_TRACK="1")  # no analytics calls from the library
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([python, __file__, *args], stdout=out, stderr=err, env=env,
                                start_new_session=True)
        t0, peak, why = time.monotonic(), 0.0, None
        while proc.poll() is None:
            peak = max(peak, rss_gib(proc.pid))
            if peak > mem_limit:
                why = f"out of memory (over {mem_limit:g} GiB after {time.monotonic() - t0:.0f} s)"
            elif time.monotonic() - t0 > timeout:
                why = f"did not finish in {timeout:g} s (peak {peak:.1f} GiB so far)"
            if why:
                os.killpg(proc.pid, 9)
                proc.wait()
                err.seek(0)
                done = [line.split()[-1] for line in err if line.startswith(PREPARED)]
                phase = f"answering, load + prepare took {done[0]} s" if done else "loading and preparing"
                return {"error": f"{why}, while {phase}", "peak_gib": peak}
            time.sleep(0.2)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    elapsed = time.monotonic() - t0
    if proc.returncode:
        lines = [line for line in stderr.strip().splitlines() if not line.startswith(PREPARED)]
        last = lines[-1] if lines else f"exit {proc.returncode}"
        if proc.returncode == -9:  # the kernel's OOM killer, most likely
            last = f"killed by SIGKILL after {elapsed:.0f} s (out of memory?)"
        elif "MemoryError" in last:
            last = f"out of memory (MemoryError after {elapsed:.0f} s)"
        return {"error": last, "peak_gib": peak}
    return json.loads(stdout.strip().splitlines()[-1])


def compare(name: str, ours, theirs) -> str:
    """'yes' when the libraries' numbers equal parcours's, else 'NO' and what differs."""
    if ours == theirs:
        return "yes"
    if name == "funnel":
        return "NO: " + " / ".join(map(str, theirs))
    a = {(f, t): (n, c) for f, t, n, c in ours}
    b = {(f, t): (n, c) for f, t, n, c in theirs}
    differ = sum(a.get(k) != b.get(k) for k in a.keys() | b.keys())
    return f"NO: {differ} of {len(a.keys() | b.keys())} pairs differ"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, nargs="+", default=[470_000])
    ap.add_argument("--runs", type=int, default=3, help="0: once, without warm-up")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per child")
    ap.add_argument("--mem-limit", type=float, default=16, help="GiB of RSS per child")
    ap.add_argument("--only", nargs="*", help="libraries or questions to run (parcours, pm4py, funnel, ...)")
    ap.add_argument("--parcours-python", default=str(HERE.parent / ".venv" / "bin" / "python"))
    ap.add_argument("--export", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--measure", nargs=2, metavar=("LIBRARY", "QUESTION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.export:
        print(json.dumps(export(args.people[0])))
        return 0
    if args.measure:
        print(json.dumps(measure(args.people[0], *args.measure, args.runs), default=str))
        return 0

    only = set(args.only or [])
    libraries = [lib for lib in LIBRARIES if lib in only] or LIBRARIES
    questions = [q for q in QUESTIONS if q in only] or QUESTIONS
    lines = ["| events | question | library | what it computes | load + prepare (s) | seconds "
             "| peak (GiB) | same numbers as parcours |", "|" + "---|" * 8]
    failed = False
    for people in args.people:
        done = child(args.parcours_python, ["--export", "--people", str(people)], 3600, args.mem_limit)
        if "error" in done:
            print(f"{people}: export failed: {done['error']}")
            return 1
        events = f"{done['events'] / 1e6:.1f}M"
        for name in questions:
            got = {}
            for lib in libraries:
                python = args.parcours_python if lib == "parcours" else sys.executable
                got[lib] = r = child(python, ["--measure", lib, name, "--people", str(people),
                                              "--runs", str(args.runs)], args.timeout, args.mem_limit)
                shown = r.get("result") if name == "funnel" or "result" not in r else len(r["result"])
                print(f"{people} {lib} {name}: " + json.dumps({k: v for k, v in r.items() if k != "result"})
                      + f" result: {shown}", flush=True)
            ours = got.get("parcours", {}).get("result")
            for lib, r in got.items():
                if lib == "parcours":
                    same = "(reference)"
                elif "result" not in r:
                    same = "—"
                elif ours is None:
                    same = "not comparable: parcours did not run"
                else:
                    same = compare(name, ours, r["result"])
                    failed |= same.startswith("NO") and name == "transitions"
                secs = f"{r['median_s']:.2f}" if "median_s" in r else r["error"]
                load = f"{r['load_s']:.2f}" if "load_s" in r else "—"
                label = "5-step funnel" if name == "funnel" else "transition matrix"
                label += "" if args.runs else " (1 run)"
                lines.append(f"| {events} | {label} | {lib} | {MEANING[name, lib]} | {load} | {secs} "
                             f"| {r.get('peak_gib', 0):.2f} | {same} |")
        for lib in [lib for lib in libraries if lib != "parcours"]:
            lines.append(f"| {events} | stage KPIs | {lib} | no equivalent: the library has no journey "
                         "stages | — | — | — | not comparable |")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
