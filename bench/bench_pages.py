"""Dashboard page time: the overview and a funnel, cold and warm, on a generated workspace.

    .venv/bin/python bench/bench_pages.py --people 470000 --runs 20

Serves a copy of ``bench/out/ws-<people>`` (built by ``_workspace.py``; 470,000 people are
about 10M events) with ``parcours serve``, logs in through the form, then loads each page as
a browser does: the HTML, then every block's data (``data-api`` of the page) in parallel. A
page's time is the HTML's time plus the slowest block. The first load is the cold one (the
analyses run); the next ``--runs`` loads are warm, and their p50 and p95 are the figures.

Beside them: the baseline, the same analyses through the query API with a read key (no
cache: the analysis itself), median of ``--base-runs``; and the HTML time of another page
measured while a cold computation runs, to show long work does not block other requests.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _workspace import OUT, workspace  # noqa: E402

PW = "bench-password-123"
PAGES = {
    "overview": "/app/overview",
    "funnel": "/app/funnel?steps=product_view%0Aadd_to_cart%0Acheckout_start%0Apurchase&window=7d",
    "map": "/app/map?lang=fr",
}
API = {  # the same analyses through the query API (read key): the baseline
    "overview": [("/api/v1/kpis", {"lang": "fr"}), ("/api/v1/feedback", {"period": "month"})],
    "funnel": [("/api/v1/funnel", [("step", "product_view"), ("step", "add_to_cart"),
                                   ("step", "checkout_start"), ("step", "purchase"), ("window", "7d")])],
    "map": [("/api/v1/map", {"lang": "fr"})],
}


def prepare(people: int) -> tuple[Path, str]:
    from parcours.web.keys import add_key
    from parcours.web.users import add_user
    from parcours.workspace import Workspace

    workspace(people).close()
    path = OUT / f"pages-{people}"
    if not (path / "READY").exists():
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(OUT / f"ws-{people}", path)
        with Workspace.open(path) as ws:
            add_user(ws.store, "bench", "analyst", PW)
        (path / "READY").write_text("ok")
    with Workspace.open(path) as ws:
        read, _ = add_key(ws.store, "read", "bench_pages")
        events = ws.store.scalar("SELECT count(*) FROM journey_events")
    print(json.dumps({"workspace": str(path), "events": events}), flush=True)
    return path, read


def serve(path: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "parcours.cli", "serve", str(path), "--port", str(port),
                             "--refresh-every", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def login(url: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=600)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"csrf": token, "name": "bench", "password": PW}).status_code == 303
    return c


def load(client: httpx.Client, path: str, pool: ThreadPoolExecutor) -> float:
    """The HTML, then every block's data in parallel: seconds until the page is drawn."""
    t0 = time.perf_counter()
    html = client.get(path)
    html.raise_for_status()
    t_html = time.perf_counter() - t0

    def fetch(api: str) -> float:
        t = time.perf_counter()
        client.get(api.replace("&amp;", "&")).raise_for_status()
        return time.perf_counter() - t

    apis = re.findall(r'data-api="([^"]+)"', html.text)
    assert apis, path
    return t_html + max(pool.map(fetch, apis))


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1] if len(xs) > 1 else xs[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=470_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--base-runs", type=int, default=1)
    ap.add_argument("--pages", nargs="+", default=["overview", "funnel"], choices=sorted(PAGES))
    a = ap.parse_args()
    path, read = prepare(a.people)
    proc, url = serve(path)
    try:
        client, pool = login(url), ThreadPoolExecutor(4)
        api = httpx.Client(base_url=url, timeout=600, headers={"Authorization": f"Bearer {read}"})
        health: list[float] = []
        for _ in range(20):
            t = time.perf_counter()
            api.get("/health")
            health.append(time.perf_counter() - t)
        for name in a.pages:
            page = PAGES[name]
            # cold, and another page's HTML while it computes (must not wait for it)
            other = login(url)
            cold_future = pool.submit(load, client, page, pool)
            time.sleep(0.5)
            t = time.perf_counter()
            other.get("/app/data").raise_for_status()
            during = time.perf_counter() - t
            cold = cold_future.result()
            warm = [load(client, page, pool) for _ in range(a.runs)]
            base = []
            for _ in range(a.base_runs):
                t = time.perf_counter()
                for p, params in API[name]:
                    api.get(p, params=params).raise_for_status()
                base.append(time.perf_counter() - t)
            out = {"page": name, "cold_s": round(cold, 3), "warm_p50_s": round(statistics.median(warm), 4),
                   "warm_p95_s": round(p95(warm), 4), "runs": a.runs,
                   "api_baseline_median_s": round(statistics.median(base), 3),
                   "warm_p95_over_api": round(p95(warm) / statistics.median(base), 4),
                   "other_page_html_during_cold_s": round(during, 3),
                   "health_median_s": round(statistics.median(health), 4)}
            print(json.dumps(out), flush=True)
            with open(OUT / "pages.log", "a") as log:
                log.write(f"{a.people} {json.dumps(out)}\n")
    finally:
        proc.terminate()
        proc.wait(120)


if __name__ == "__main__":
    main()
