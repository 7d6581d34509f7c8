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


def peak_gib() -> float:
    """This process's peak resident memory in GiB. Linux's ``VmHWM`` belongs to the process's
    own memory map: ``ru_maxrss`` survives ``exec``, so a child started by a parent that had
    built a 100M-event store would report the parent's peak as its own."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20  # KiB -> GiB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(fn):
    """(seconds, result) of ``fn()``: what every bench script measures with."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


#: every kind the generator writes, in the order they import (customers first).
KINDS = ("customers", "events", "feedback", "spend")


def fill(path: Path, files: dict, kinds=KINDS, refresh: bool = True):
    """A new workspace at ``path`` with the generated ``files`` of ``kinds`` imported, then
    stitched and staged (``refresh=False`` for a script that times those itself)."""
    from parcours.workspace import Workspace

    ws = Workspace.init(path)
    for kind in kinds:
        ws.import_(files[kind], kind, refresh=False)
    if refresh:
        ws.refresh(full=True)
    return ws


def build(folder: Path, people: int, *, seed: int = 1, kinds=KINDS, refresh: bool = True, **options):
    """Generate ``people`` into ``folder/data`` (``options`` go to the generator: frictions,
    locale, format) and :func:`fill` ``folder/ws`` with them: (workspace, generated)."""
    from parcours.synth import generate

    gen = generate(folder / "data", customers=people, seed=seed, **options)
    return fill(folder / "ws", gen.paths, kinds, refresh), gen


def workspace(people: int, seed: int = 1, out: Path = OUT, kinds=("customers", "events")):
    """The workspace ``out/ws-<people>`` (built if missing or unfinished), opened; the generated
    files ``out/data-<people>`` are kept too, for the scripts that read them."""
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
    print(f"generated in {time.perf_counter() - t0:.0f} s", flush=True)
    ws = fill(path, {k: data / f"{k}.parquet" for k in kinds}, kinds)
    ws.store.con.execute("CHECKPOINT")
    print(f"imported and refreshed in {time.perf_counter() - t0:.0f} s", flush=True)
    done.write_text("ok")
    return ws


if __name__ == "__main__":
    import sys

    for n in sys.argv[1:]:
        w = workspace(int(n))
        print(n, w.store.scalar("SELECT count(*) FROM journey_events"), flush=True)
        w.close()
