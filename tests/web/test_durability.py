"""Under load: a full queue answers 429 with Retry-After, and a 2xx survives SIGKILL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def _batch(prefix: str, n: int) -> dict:
    return {"batch": [{"type": "track", "userId": f"c{i % 7}", "event": "view", "messageId": f"{prefix}-{i}",
                       "timestamp": "2024-03-04T08:00:00Z"} for i in range(n)]}


def test_full_queue_answers_429_with_retry_after_and_loses_nothing(live):
    server = live("--max-pending", "50")
    batches = {f"r{k}": _batch(f"r{k}", 40) for k in range(24)}

    def send(name):
        with server.writer() as c:
            return name, c.post("/v1/batch", json=batches[name])

    with ThreadPoolExecutor(12) as pool:
        answers = dict(pool.map(send, batches))
    refused = [n for n, r in answers.items() if r.status_code == 429]
    assert refused, "12 concurrent writers never filled a queue of 50 events"
    assert all(answers[n].status_code == 200 for n in batches if n not in refused)
    for n in refused:
        r = answers[n]
        assert int(r.headers["Retry-After"]) >= 1 and "retry" in r.json()["detail"]
    # a client that retries as told gets everything in
    with server.writer() as c:
        for n in refused:
            for _ in range(20):
                r = c.post("/v1/batch", json=batches[n])
                if r.status_code != 429:
                    break
                time.sleep(0.2)
            assert r.status_code == 200
    stored = {r[0] for r in server.rows("SELECT event_id FROM events")}
    assert stored == {m["messageId"] for b in batches.values() for m in b["batch"]}


def test_every_acknowledged_event_survives_sigkill(live):
    server = live()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(k: int):
        with server.writer() as c:
            for j in range(10_000):
                if stop.is_set():
                    return
                batch = _batch(f"s{k}-{j}", 100)
                try:
                    r = c.post("/v1/batch", json=batch)
                except httpx.TransportError:
                    return  # the server is gone: this batch was never acknowledged
                if r.status_code == 200:
                    with lock:
                        acked.extend(m["messageId"] for m in batch["batch"])

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # right after 2xx answers, with other requests in flight
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 3000
    server.start()  # reopening replays the write-ahead log
    with server.reader() as c:
        assert c.get("/health").json()["status"] == "ok"
    stored = {r[0] for r in server.rows("SELECT event_id FROM events")}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"


def test_ingestion_goes_on_while_journeys_refresh(live):
    """The refresher works beside the writer (its own connection): with a refresh every second
    under load, no request fails, and the last refresh sees every acknowledged event."""
    server = live("--refresh-every", "1")
    acked: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 6

    def sender(k: int):
        with server.writer() as c:
            j = 0
            while time.monotonic() < deadline:
                batch = _batch(f"f{k}-{j}", 100)
                batch["batch"].append({"type": "identify", "userId": f"c{j % 7}", "anonymousId": f"a{k}-{j}"})
                r = c.post("/v1/batch", json=batch)
                with lock:
                    if r.status_code != 200:
                        failed.append(f"{r.status_code} {r.text}")
                        return
                    acked.extend(m["messageId"] for m in batch["batch"] if "messageId" in m)
                j += 1

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and acked
    with server.client() as c:
        writer = c.get("/health").json()["writer"]
    assert writer["refreshes"] >= 2 and writer["errors"] == 0, writer
    with server.reader() as c:
        stats = c.post("/v1/refresh").json()["stats"]
    assert stats["events"] == len(acked)
    assert len(server.rows("SELECT event_id FROM events")) == len(acked)
