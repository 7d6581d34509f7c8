"""Sustained HTTP ingestion: events per second through ``POST /v1/batch`` on loopback.

    .venv/bin/python bench/bench_ingest.py --seconds 15 --runs 3 --batch 500 --connections 32

Starts ``parcours serve`` on a fresh workspace (background refresh on, its default 30 s),
and a load generator (httpx, asyncio, ``--connections`` concurrent connections on
127.0.0.1) sends batches of ``--batch`` track events with unique messageIds for ``--seconds``;
a 429 is retried after its Retry-After, as Segment's libraries do. Each run reports the
events acknowledged (HTTP 200) per second; the median of ``--runs`` is the figure. Then the
server is killed with SIGKILL, started again, stopped, and the stored events are counted:
they must equal the acknowledged ones (none lost, none twice).

Baseline beside it: the same messages written to a Segment JSON Lines file and imported by
the file importer (``parcours import --kind segment``) into a fresh store, in events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from parcours.data.importer import import_file
from parcours.data.store import Store
from parcours.web.keys import add_key
from parcours.workspace import STORE_FILE, Workspace

EVENTS = ("page_view", "product_view", "add_to_cart", "checkout_start", "purchase", "search")
CHANNELS = ("browser", "mobile", "server")


def message(i: int) -> dict:
    """One realistic track message; ``i`` makes its messageId unique."""
    return {"type": "track", "messageId": f"m{i}", "userId": f"c{i // 13 % 50_000}",
            "anonymousId": f"a{i // 7 % 90_000}", "event": EVENTS[i % 6],
            "timestamp": f"2025-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "properties": {"sku": f"sku-{i % 997}", "revenue": round(i % 5000 / 100, 2) if i % 6 == 4 else None},
            "context": {"channel": CHANNELS[i % 3], "campaign": {"source": "news" if i % 4 else "ads"}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, path: Path, port: int):
        self.path, self.port, self.proc = path, port, None

    def start(self) -> "Server":
        self.proc = subprocess.Popen([sys.executable, "-m", "parcours.cli", "serve", str(self.path),
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(120)


def batch_template(batch: int) -> bytes:
    """One batch body whose messageIds carry a ``@@`` to replace: the generator then spends
    microseconds per batch, and the two cores are left to the server."""
    msgs = [message(i) for i in range(batch)]
    for i, m in enumerate(msgs):
        m["messageId"] = f"m@@-{i}"
    return json.dumps({"batch": msgs}).encode()


def message_ids(first: int, batch: int) -> list[str]:
    return [f"m{first}-{i}" for i in range(batch)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, key: str, seconds: float, batch: int, connections: int, start: int) -> dict:
    """Send batches for ``seconds``; returns the acknowledged batches' numbers, 429s and errors."""
    counter = iter(range(start, 10**12))
    template = batch_template(batch)
    acked: list[int] = []
    refused = errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), limits=limits, timeout=120) as client:
        async def worker():
            nonlocal refused, errors
            while time.monotonic() < deadline:
                first = next(counter)
                body = template.replace(b"@@", str(first).encode())
                while True:
                    try:
                        r = await client.post("/v1/batch", content=body, headers={"content-type": "application/json"})
                    except httpx.TransportError:
                        errors += 1
                        break
                    if r.status_code == 200:
                        acked.append(first)
                        break
                    if r.status_code in (429, 503):
                        refused += 1
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    errors += 1
                    break

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - t0
    return {"firsts": acked, "events": len(acked) * batch, "seconds": elapsed, "refused": refused, "errors": errors}


def baseline(ids: list[int], batch: int, work: Path) -> float:
    """The same messages through the file importer, in events/s."""
    src = work / "acknowledged.jsonl"
    template = json.loads(batch_template(batch))["batch"]
    with src.open("w") as f:
        for first in ids:
            for m in template:
                f.write(json.dumps({**m, "messageId": m["messageId"].replace("@@", str(first))}) + "\n")
    store = Store(work / "baseline.duckdb")
    t0 = time.perf_counter()
    report = import_file(store, src, "segment")
    elapsed = time.perf_counter() - t0
    store.close()
    assert report.imported == len(ids) * batch, report.to_dict()
    return report.imported / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--keep", action="store_true", help="Keep the workspace under bench/out/ afterwards.")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=Path(__file__).parent / "out"))
    with Workspace.init(work / "ws") as ws:
        key, _ = add_key(ws.store, "write", "bench")
    server = Server(work / "ws", free_port()).start()
    url = f"http://127.0.0.1:{server.port}"
    runs, per_cpu, firsts = [], [], []
    for n in range(args.runs):
        cpu0 = cpu_seconds(server.proc.pid)
        out = asyncio.run(load(url, key, args.seconds, args.batch, args.connections, start=n * 10**9))
        cpu = cpu_seconds(server.proc.pid) - cpu0
        firsts += out["firsts"]
        rate = out["events"] / out["seconds"]
        runs.append(rate)
        per_cpu.append(out["events"] / cpu)
        print(f"run {n + 1}: {out['events']} events acknowledged in {out['seconds']:.1f} s = {rate:,.0f} events/s; "
              f"server CPU {cpu:.1f} s = {per_cpu[-1]:,.0f} events per CPU-second "
              f"({out['refused']} answers 429/503 retried, {out['errors']} errors)", flush=True)
    writer = httpx.get(url + "/health").json()["writer"]
    print("writer:", json.dumps(writer), flush=True)
    server.signal(signal.SIGKILL)  # no graceful shutdown: only what was committed can be there
    server.start()
    server.signal(signal.SIGTERM)
    with Store(work / "ws" / STORE_FILE, read_only=True) as store:
        stored = store.scalar("SELECT count(*) FROM events")
        distinct = store.scalar("SELECT count(DISTINCT event_id) FROM events")
    acknowledged = len(firsts) * args.batch
    with Store(work / "ws" / STORE_FILE, read_only=True) as store:
        expected = {i for first in firsts for i in message_ids(first, args.batch)}
        missing = expected - {r[0] for r in store.fetch("SELECT event_id FROM events")}
    base = baseline(firsts, args.batch, work)
    median = statistics.median(runs)
    result = {
        "http_events_per_s_median": round(median), "http_events_per_s_runs": [round(r) for r in runs],
        "server_events_per_cpu_s_median": round(statistics.median(per_cpu)),
        "acknowledged": acknowledged, "stored_after_sigkill_and_restart": stored, "distinct_stored": distinct,
        "acknowledged_missing": len(missing), "file_import_events_per_s": round(base),
        "ratio_http_to_file_import": round(median / base, 3),
        "events_per_commit": round(writer["messages"] / max(writer["commits"], 1)),
        "batch": args.batch, "connections": args.connections, "seconds": args.seconds, "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if stored != acknowledged or distinct != acknowledged or missing:
        sys.exit("acknowledged and stored events differ")


if __name__ == "__main__":
    main()
