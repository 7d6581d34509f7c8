"""The demo a new user runs first: generate, import, refresh, analyse."""

from __future__ import annotations

from rich.console import Console

from parcours.demo import run_demo
from parcours.render.formats import duration


def test_demo_builds_a_workspace_and_reports_real_figures(tmp_path):
    console = Console(record=True, width=120)
    summary = run_demo(tmp_path / "demo", customers=1500, seed=3, lang="en", console=console)
    assert all(r["rejected"] == 0 and r["imported"] > 0 for r in summary["imports"].values())
    stages = summary["stages"]
    counts = [s["customers"] for s in stages]
    assert counts[0] > 0 and counts[1] < counts[0]  # some leave after awareness
    steps = summary["funnel"]["steps"]
    assert [s["count"] for s in steps] == sorted((s["count"] for s in steps), reverse=True)
    assert steps[-1]["count"] > 0
    text = console.export_text()
    assert "Purchase funnel" in text and summary["example_customer"] in text
    # running it again re-imports nothing
    again = run_demo(tmp_path / "demo", customers=1500, seed=3, lang="en", console=console)
    assert all(r["imported"] == 0 for k, r in again["imports"].items() if k != "customers")


def test_duration_reads_well():
    assert [duration(s, "en") for s in (5, 600, 7200 * 2, 86400 * 3)] == ["5 s", "10 min", "4 h", "3.0 d"]
    assert duration(86400 * 3, "fr") == "3,0 j"
