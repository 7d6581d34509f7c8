"""The ``parcours`` command: thin over the workspace and the analysis functions.

Each command parses its options, calls one function, and prints its result: a Rich table for
people, or ``to_dict()`` as JSON with ``--json``. Errors of the ParcoursError tree become a
one-line message and the exit code of their kind (see errors.py).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import ParcoursError
from .i18n import lang_default, t

app = typer.Typer(
    name="parcours",
    help="Customer-journey analytics: import, stitch, stage, measure and map customer journeys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print the result as JSON (the result's to_dict()).")
LangOpt = typer.Option(None, "--lang", help="fr or en (default: PARCOURS_LANG, else fr).")


def handle_errors(fn):
    """Map ParcoursError to a clear message and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ParcoursError as exc:
            err_console.print(f"[bold red]{t('error')}[/]: {exc}", highlight=False)
            raise typer.Exit(exc.exit_code)

    return wrapper


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str, indent=2) + "\n")


def _open(directory: Path, read_only: bool = False):
    from .workspace import Workspace

    return Workspace.open(directory, read_only=read_only)


@app.command()
@handle_errors
def init(
    directory: Path = typer.Argument(..., help="Folder of the new workspace."),
    template: str = typer.Option("cinq-etapes", "--template", "-t",
                                 help="Journey model template: cinq-etapes, aida-cinq, huit-etapes, trois-phases."),
    lang: Optional[str] = LangOpt,
):
    """Create a workspace: an empty store and journey.yaml from a template."""
    from .workspace import Workspace

    Workspace.init(directory, template=template).close()
    console.print(t("init.done", lang, path=directory, template=template))


@app.command("import")
@handle_errors
def import_(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    files: List[Path] = typer.Argument(..., help="CSV, JSON Lines, Parquet or Segment JSON files."),
    kind: str = typer.Option("events", "--kind", "-k",
                             help="events, customers, feedback, spend or segment (Segment-spec messages)."),
    map_: List[str] = typer.Option([], "--map", "-m", help="Rename a source column: SOURCE=TARGET (repeatable)."),
    tz: str = typer.Option("UTC", "--timezone", help="Time zone of timestamps written without an offset."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv, jsonl, parquet or json (default: from the file name)."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Import files; bad rows are kept aside (see `parcours rejects`), good rows imported once."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .data.importer import ImportReport, import_file

    ws = _open(directory)
    total = ImportReport()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=err_console, disable=as_json or not err_console.is_terminal)
    with ws, progress:
        task = progress.add_task(t("import.file", lang, file="..."), total=len(files))
        for f in files:
            progress.update(task, description=t("import.file", lang, file=f.name))
            total.add(import_file(ws.store, f, kind, map_, tz, fmt))
            progress.advance(task)
        if kind in ("events", "segment", "customers") and total.imported:
            ws.refresh()
    if as_json:
        print_json(total.to_dict())
        return
    console.print(t("import.summary", lang, **total.to_dict()))
    if total.rejected:
        _rejects_table(total.rejects, lang)
        console.print(t("import.rejects_hint", lang, dir=directory))


def _rejects_table(rows: list[dict], lang) -> None:
    table = Table(show_lines=False)
    for key in ("file", "row", "column", "reason"):
        table.add_column(t(f"col.{key}", lang))
    for r in rows:
        table.add_row(str(r["file"]), "" if r["row"] is None else str(r["row"]), r["column"] or "", r["reason"])
    console.print(table)


@app.command()
@handle_errors
def rejects(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    file: Optional[str] = typer.Option(None, "--file", help="Only the rejects of this file."),
    limit: int = typer.Option(200, "--limit", help="At most this many rows (0: all)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write all rejects to this CSV file."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """List the rows that imports rejected, with file, row, column and reason."""
    with _open(directory) as ws:
        frame = ws.rejects(file, None if out else (limit or None))
    if out:
        frame.to_csv(out, index=False)
    if as_json:
        print_json({"rejects": json.loads(frame.to_json(orient="records"))})
        return
    if frame.empty:
        console.print(t("rejects.none", lang))
        return
    _rejects_table(frame.to_dict("records"), lang)


@app.command()
@handle_errors
def refresh(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    full: bool = typer.Option(False, "--full", help="Rebuild every journey, not only the changed ones."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Stitch identities and assign stages again (imports do it already)."""
    with _open(directory) as ws:
        stats = ws.refresh(full=full)
    data = stats.to_dict() if hasattr(stats, "to_dict") else dict(vars(stats))
    if as_json:
        print_json(data)
    else:
        console.print(t("refresh.done", lang, persons=data.get("persons", "?"), events=data.get("events", "?")))


@app.command()
@handle_errors
def journey(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    customer_id: str = typer.Argument(..., help="A customer id or an anonymous id."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """One customer's timeline: stages entered and left, events, channels."""
    lang = lang or lang_default()
    with _open(directory) as ws:
        result = ws.journey(customer_id, lang=lang)
    data = result.to_dict()
    if as_json:
        print_json(data)
        return
    console.print(t("journey.title", lang, person=data["person_id"], stage=data["current_stage_label"]))
    stages = Table(title=None)
    for key in ("stage", "entered", "left", "move"):
        stages.add_column(t(f"col.{key}", lang))
    for s in data["stages"]:
        stages.add_row(str(s.get("label") or s["stage"]), str(s["entered_at"]), str(s.get("left_at") or ""),
                       str(s.get("move") or ""))
    console.print(stages)
    events = Table()
    for key in ("time", "event", "channel", "touchpoint", "stage"):
        events.add_column(t(f"col.{key}", lang))
    for e in data["events"]:
        events.add_row(str(e["timestamp"]), e["event"], e.get("channel") or "", e.get("touchpoint") or "",
                       e["stage_label"])
    console.print(events)


@app.command()
@handle_errors
def demo(
    directory: Path = typer.Argument(Path("demo"), help="Folder of the demo workspace."),
    customers: int = typer.Option(20000, "--customers", help="How many customers to generate."),
    seed: int = typer.Option(0, "--seed"),
    lang: Optional[str] = LangOpt,
):
    """Build a demo workspace from generated data and show what parcours finds in it."""
    from .demo import run_demo

    run_demo(directory, customers=customers, seed=seed, lang=lang or lang_default(), console=console)


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
