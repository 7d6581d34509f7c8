"""`make demo`: generate a realistic data set, import it into a new workspace, show results.

The same steps a user takes, through the same functions: generate, init, import (customers,
events, feedback, spend), refresh, then the analyses.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from .i18n import t
from .render.formats import duration, num, pct

IMPORT_ORDER = ("customers", "events", "feedback", "spend")
DEMO_FUNNEL = ["product_view", "add_to_cart", "checkout_start", "purchase"]


def run_demo(directory, customers: int = 20000, seed: int = 0, lang: str = "fr",
             console: Console | None = None, report: bool = False) -> dict:
    from .data.importer import import_file
    from .synth import generate
    from .workspace import STORE_FILE, Workspace

    console = console or Console()
    directory = Path(directory)
    data = directory / "data"
    if not (data / "truth.json").exists():
        console.print(t("demo.generating", lang, customers=customers))
        generate(data, customers=customers, seed=seed, locale=lang, format="parquet")
    fresh = not (directory / STORE_FILE).exists()
    ws = Workspace.init(directory, exist_ok=True) if fresh else Workspace.open(directory)
    summary: dict = {"imports": {}}
    with ws:
        for kind in IMPORT_ORDER:
            path = data / f"{kind}.parquet"
            report = import_file(ws.store, path, kind)
            summary["imports"][kind] = report.to_dict()
            console.print(f"{kind:10} {t('import.summary', lang, **report.to_dict())}")
        ws.refresh()
        summary["stages"] = stage_reach(ws, lang)
        from .analysis.funnel import funnel

        result = funnel(ws.store, DEMO_FUNNEL, window="30d")
        summary["funnel"] = result.to_dict()
        summary["example_customer"] = ws.store.scalar(
            "SELECT p.person_id FROM persons p JOIN person_stage s USING (person_key) "
            "WHERE p.customer_id IS NOT NULL ORDER BY s.backward_moves DESC, p.person_id LIMIT 1")
        if report:  # the manager's page: `make demo` writes it beside the workspace
            from .render.report import build_report, write_report

            summary["report"] = str(write_report(build_report(ws.store, ws.model, lang=lang),
                                                 directory / "report.html", source=str(directory)))
    table = Table(title=t("demo.stages", lang))
    table.add_column(t("col.stage", lang))
    table.add_column("n", justify="right")
    table.add_column("%", justify="right")
    for row in summary["stages"]:
        table.add_row(row["label"], num(row["customers"], lang), pct(row["share"], lang, 1))
    console.print(table)
    steps = Table(title=t("demo.funnel", lang))
    for key in ("step", "customers", "from_previous", "median_time"):
        steps.add_column(t(f"col.{key}", lang), justify="left" if key == "step" else "right")
    for step in summary["funnel"]["steps"]:
        prev = step["conversion_from_previous"]
        median = step["median_seconds"]
        steps.add_row(step["name"], num(step["count"], lang), "" if prev is None else pct(prev, lang, 1),
                      "" if median is None else duration(median, lang))
    console.print(steps)
    console.print(t("demo.done", lang, dir=directory, customer=summary["example_customer"]), soft_wrap=True)
    if report:
        from .render.labels import label

        console.print(label("cli.report_written", lang, path=summary["report"]), soft_wrap=True)
    return summary


def stage_reach(ws, lang: str = "fr") -> list[dict]:
    """People who reached each stage of the model (from their stage histories)."""
    model = ws.model
    counts = dict(ws.store.fetch("SELECT stage, count(DISTINCT person_key) FROM stage_history GROUP BY stage"))
    total = ws.store.scalar("SELECT count(*) FROM persons") or 0
    return [
        {"stage": sid, "label": model.label(sid, lang), "customers": int(counts.get(i, 0)),
         "share": (counts.get(i, 0) / total) if total else 0.0}
        for i, sid in enumerate(model.stage_ids)
    ]
