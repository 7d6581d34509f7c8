"""Shared by the bench scripts: a timer, and a generated, imported and refreshed workspace
under bench/out/, built once and reused.

Generating and importing 100M events takes minutes: the benchmarks measure analyses, not
that, so the workspace is kept between runs (``bench/out/`` is gitignored).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"


def timed(fn):
    """(seconds, result) of ``fn()``: what every bench script measures with."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def workspace(people: int, seed: int = 1, out: Path = OUT):
    """The workspace ``out/ws-<people>`` (built if missing or unfinished), opened."""
    from parcours.data.identity import stitch
    from parcours.data.importer import import_file
    from parcours.journey.assign import refresh
    from parcours.synth import generate
    from parcours.workspace import Workspace

    path = out / f"ws-{people}"
    done = path / "READY"
    if done.exists():
        return Workspace.open(path)
    shutil.rmtree(path, ignore_errors=True)
    data = out / f"data-{people}"
    t0 = time.perf_counter()
    if not (data / "READY").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data, customers=people, seed=seed)
        (data / "READY").write_text("ok")
    paths = {k: data / f"{k}.parquet" for k in ("customers", "events")}
    print(f"generated in {time.perf_counter() - t0:.0f} s", flush=True)
    ws = Workspace.init(path)
    import_file(ws.store, paths["customers"], "customers")
    import_file(ws.store, paths["events"], "events")
    print(f"imported in {time.perf_counter() - t0:.0f} s", flush=True)
    stitch(ws.store)
    refresh(ws.store, ws.model, full=True)
    ws.store.con.execute("CHECKPOINT")
    print(f"refreshed in {time.perf_counter() - t0:.0f} s", flush=True)
    done.write_text("ok")
    return ws


if __name__ == "__main__":
    import sys

    for n in sys.argv[1:]:
        w = workspace(int(n))
        print(n, w.store.scalar("SELECT count(*) FROM journey_events"), flush=True)
        w.close()
