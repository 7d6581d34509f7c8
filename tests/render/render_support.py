"""Shared by the render tests: real stores from event dicts, and a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from parcours.data.identity import stitch
from parcours.data.importer import import_frame
from parcours.data.store import Store
from parcours.journey.assign import refresh

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LAPTOPS = [(1440, 900), (1366, 768)]


def build(store: Store, model, events: list[dict], customers: list[dict] = (), feedback: list[dict] = ()) -> Store:
    """Import the events (list order = seq), customers and feedback; stitch; assign stages."""
    if customers:
        frame = pd.DataFrame([{"customer_id": c["customer_id"], "attributes": json.dumps(c["attributes"])}
                              for c in customers])
        import_frame(store, frame, "customers")
    if events:
        frame = pd.DataFrame([{"event_id": f"e{i}", "customer_id": e["customer_id"], "timestamp": e["timestamp"],
                               "event": e["event"], "channel": e.get("channel"), "touchpoint": e.get("touchpoint")}
                              for i, e in enumerate(events)])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        assert import_frame(store, frame).to_dict()["imported"] == len(events)
    if feedback:
        frame = pd.DataFrame([{"feedback_id": f"f{i}", **f} for i, f in enumerate(feedback)])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        assert import_frame(store, frame, "feedback").to_dict()["imported"] == len(feedback)
    stitch(store)
    refresh(store, model)
    return store


def staged_events(store: Store) -> list[dict]:
    """The journey view as plain dicts, in (person, timestamp, seq) order: what references read."""
    rows = store.fetch('SELECT person_id, customer_id, "timestamp", seq, event, touchpoint, channel, stage '
                       'FROM journey_view ORDER BY person_id, "timestamp", seq')
    keys = ("person", "customer", "ts", "seq", "event", "touchpoint", "channel", "stage")
    return [dict(zip(keys, r)) for r in rows]


T0 = dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.timezone.utc)


# -- the browser --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by Playwright, with a fresh profile."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
    with sync_api.sync_playwright() as p:
        profile = tmp_path_factory.mktemp("chromium-profile")
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                   args=FLAGS, viewport={"width": 1440, "height": 900})
        yield ctx
        ctx.close()


# Everything measured in the page itself, so that the numbers are the browser's layout.
LAYOUT_JS = r"""
() => {
  const out = {};
  const de = document.documentElement;
  out.page = {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth};
  const boxes = [...document.querySelectorAll(
      'section, .jm-grid, .jm-grid > div, .jm-span .col, .card, .quad > div, .kpi, .chart, table')];
  out.overflowing = boxes.filter(e => e.scrollWidth > e.clientWidth + 1)
      .map(e => ({cls: e.className, lane: e.dataset.lane || null, sw: e.scrollWidth, cw: e.clientWidth,
                  text: (e.textContent || '').slice(0, 60)}));
  // every line box of every text node in the map grids, to find overlapping labels
  const rects = [];
  const small = [];
  for (const grid of document.querySelectorAll('.jm-grid')) {
    const walker = document.createTreeWalker(grid, NodeFilter.SHOW_TEXT);
    let n, id = 0;
    while ((n = walker.nextNode())) {
      if (!n.textContent.trim()) continue;
      id++;
      const size = parseFloat(getComputedStyle(n.parentElement).fontSize);
      if (size < 11) small.push({text: n.textContent.slice(0, 40), size});
      const r = document.createRange();
      r.selectNodeContents(n);
      for (const b of r.getClientRects()) {
        if (b.width > 0 && b.height > 0) rects.push({id, text: n.textContent.slice(0, 40),
                                                     l: b.left, r: b.right, t: b.top, b: b.bottom});
      }
    }
  }
  const overlaps = [];
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const a = rects[i], c = rects[j];
      if (a.id === c.id) continue;
      const w = Math.min(a.r, c.r) - Math.max(a.l, c.l), h = Math.min(a.b, c.b) - Math.max(a.t, c.t);
      if (w > 1 && h > 1) overlaps.push([a.text, c.text]);
    }
  }
  out.textRects = rects.length;
  out.overlaps = overlaps.slice(0, 10);
  out.small = small.slice(0, 10);
  out.stages = [...document.querySelectorAll('.jm-head')].map(h => {
    const b = h.getBoundingClientRect();
    return {stage: h.dataset.stage, left: b.left, right: b.right, width: b.width};
  });
  out.viewport = window.innerWidth;
  out.charts = [...document.querySelectorAll('.chart')].map(c => ({
    id: (c.querySelector('[id]') || {}).id || null,
    rendered: !!c.querySelector('.plot-container svg'),
    height: c.getBoundingClientRect().height}));
  return out;
}
"""


def check_layout(browser, html_file: Path, shots: Path, name: str, stages: int) -> dict:
    """Open the page at both laptop sizes; assert nothing overflows or overlaps and every chart
    rendered; save a full-page screenshot of each. Returns the last layout measured."""
    layout = None
    for width, height in LAPTOPS:
        page = browser.new_page()
        page.set_viewport_size({"width": width, "height": height})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        fetched = []  # the page must open offline: anything but the file itself is a failure
        page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort())
                   if not route.request.url.startswith(("file:", "data:")) else route.continue_())
        page.goto(html_file.as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        layout = page.evaluate(LAYOUT_JS)
        page.screenshot(path=str(shots / f"{name}-{width}x{height}.png"), full_page=True)
        page.close()
        assert errors == [], errors
        assert fetched == [], fetched
        assert layout["page"]["scrollWidth"] <= layout["page"]["clientWidth"], layout["page"]
        assert layout["overflowing"] == [], layout["overflowing"]
        assert layout["textRects"] > 50
        assert layout["overlaps"] == [], layout["overlaps"]
        assert layout["small"] == [], layout["small"]
        assert len(layout["stages"]) == stages
        for s in layout["stages"]:
            assert s["left"] >= 0 and s["right"] <= layout["viewport"] and s["width"] >= 100, s
        assert layout["charts"] and all(c["rendered"] and c["height"] > 100 for c in layout["charts"]), layout["charts"]
    return layout
