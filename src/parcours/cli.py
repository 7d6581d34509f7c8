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
from rich.markup import escape
from rich.table import Table

from .cli_help import LocalizedGroup
from .errors import ConfigError, ParcoursError
from .i18n import LANGS, lang_default, t

app = typer.Typer(
    name="parcours",
    help="Customer-journey analytics: import, stitch, stage, measure and map customer journeys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LocalizedGroup,
)
console = Console()
err_console = Console(stderr=True)


class DataTable(Table):
    """A Rich table whose cells are data: ``purchase[channel=web]`` prints as written, not as markup."""

    def add_row(self, *cells, **options) -> None:
        super().add_row(*[escape(c) if isinstance(c, str) else c for c in cells], **options)


JsonOpt = typer.Option(False, "--json", help="Print the result as JSON (the result's to_dict()).")


def _check_lang(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in LANGS:
        raise typer.BadParameter(f"{value!r}: fr or en")
    return value


LangOpt = typer.Option(None, "--lang", help="fr or en (default: PARCOURS_LANG, else fr).", callback=_check_lang)
SegmentOpt = typer.Option(None, "--segment", help="Only the persons of this saved segment (parcours segment add).")
ChartOpt = typer.Option(None, "--chart", help="Also draw the result in this HTML file (self-contained, opens offline).")


def handle_errors(fn):
    """Map ParcoursError to a clear message and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ParcoursError as exc:
            err_console.print(f"[bold red]{t('error')}[/]: {exc}", highlight=False, soft_wrap=True)
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
    table = DataTable(show_lines=False)
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
    stages = DataTable(title=None)
    for key in ("stage", "entered", "left", "move"):
        stages.add_column(t(f"col.{key}", lang))
    for s in data["stages"]:
        stages.add_row(str(s.get("label") or s["stage"]), str(s["entered_at"]), str(s.get("left_at") or ""),
                       str(s.get("move") or ""))
    console.print(stages)
    events = DataTable()
    for key in ("time", "event", "channel", "touchpoint", "stage"):
        events.add_column(t(f"col.{key}", lang))
    for e in data["events"]:
        events.add_row(str(e["timestamp"]), e["event"], e.get("channel") or "", e.get("touchpoint") or "",
                       e["stage_label"])
    console.print(events)


def parse_step_text(text: str) -> dict | str:
    """A step as typed on the command line (see analysis._common.parse_step_text, shared with the web)."""
    from .analysis._common import parse_step_text as parse

    return parse(text)


def show(result, as_json: bool, chart: Optional[Path] = None, lang: Optional[str] = None,
         title: Optional[str] = None, header=None, limit: int = 50, table=None, names: Optional[dict] = None) -> None:
    """An analysis result: its to_dict() as JSON, or for people ``table(result, lang)`` (default:
    its to_frame() in the reader's language); and its charts in ``chart`` (an HTML page) when asked."""
    lang = lang or lang_default()
    if as_json:
        print_json(result.to_dict())
    elif table is not None:
        table(result, lang, names=names)
    else:
        _print_frame(result.to_frame(), title=title, lang=lang, header=header, limit=limit, names=names)
    if chart is not None:
        from .render.charts import write_charts
        from .render.labels import label

        (err_console if as_json else console).print(
            label("cli.written", lang, path=write_charts(result, chart, lang)), soft_wrap=True)


#: Columns of analysis frames named in the CLI's catalogue under another key.
HEADER_KEYS = {"name": "step", "step": "step_index", "conversion_from_previous": "from_previous",
               "median_seconds": "median_time"}


def _stage_names(model, lang: str) -> dict:
    """Stage ids -> their labels in ``lang``, for tables people read (JSON keeps the ids)."""
    return {sid: model.label(sid, lang) or sid for sid in model.stage_ids}


def _header(column: str, lang: str) -> str:
    """A frame's column as a person reads it: ``col.<name>`` of the catalogue, else as is."""
    from .i18n import MESSAGES

    key = f"col.{HEADER_KEYS.get(column, column)}"
    return t(key, lang) if key in MESSAGES else str(column)


def _print_frame(frame, title: str | None = None, limit: int = 50, lang: Optional[str] = None,
                 header=None, names: Optional[dict] = None) -> None:
    """A frame as a table: headers from ``header`` (default: the catalogue), every value written
    the reader's way (shares as percentages, seconds as durations, numbers with separators)."""
    from pandas.api.types import is_numeric_dtype

    from .render.formats import cell

    lang = lang or lang_default()
    header = header or (lambda c: _header(c, lang))
    table = DataTable(title=title)
    names = names or {}
    rows = [[cell(str(col), names.get(v, v) if isinstance(v, str) else v, lang) for col, v in zip(frame.columns, row)]
            for row in frame.head(limit).itertuples(index=False)]
    for i, col in enumerate(frame.columns):
        numeric = is_numeric_dtype(frame[col])
        widest = max((len(r[i]) for r in rows), default=0)  # the row's name reads whole, up to 24
        table.add_column(header(col), justify="right" if numeric else "left", overflow="fold",
                         min_width=min(widest, 24) if i == 0 else None)
    for r in rows:
        table.add_row(*r)
    console.print(table, crop=False)  # a narrow terminal or a pipe gets long lines, never cut ones
    if len(frame) > limit:
        console.print(t("cli.more_rows", lang, shown=limit, total=len(frame)), highlight=False)


@app.command()
@handle_errors
def funnel(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    step: List[str] = typer.Option([], "--step", "-s",
                                   help=r"A step: NAME or NAME\[channel=..,touchpoint=..,properties.KEY=..] (repeatable, in order)."),
    window: str = typer.Option("14d", "--window", help="Conversion window from the step-1 event (inclusive): 14d, 2h, 30m."),
    order: str = typer.Option("ordered", "--order", help="ordered, strict or unordered."),
    exclude: List[str] = typer.Option([], "--exclude", help="NAME:FROM:TO, steps numbered from 0 (repeatable)."),
    per: str = typer.Option("customer", "--per", help="customer or account (B2B)."),
    by: Optional[str] = typer.Option(None, "--by", help="Breakdown: channel, touchpoint, attributes.NAME, or segments (each saved segment)."),
    attribution: str = typer.Option("first_touch", "--attribution", help="first_touch, last_touch or step:N."),
    since: Optional[str] = typer.Option(None, "--since", help="Only attempts starting on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only attempts starting before this date."),
    stages: bool = typer.Option(False, "--stages", help="Use the journey model's stages as the steps."),
    over: Optional[str] = typer.Option(None, "--over", help="The funnel of the customers who entered in each "
                                       "day, week or month."),
    people: Optional[int] = typer.Option(None, "--people", help="List the customers who reached this step "
                                         "(from 0) instead of counting them."),
    dropped: bool = typer.Option(False, "--dropped", help="With --people: only those who dropped after the step."),
    limit: int = typer.Option(1000, "--limit", help="With --people: at most this many customers."),
    segment: Optional[str] = SegmentOpt,
    chart: Optional[Path] = ChartOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Conversion through ordered steps, with time to convert and breakdowns."""
    from .analysis import funnel as f
    from .analysis._common import steps_from_text

    _no_scope_with_segments(by, segment)
    if sum(x is not None for x in (by, over, people)) > 1:
        raise ConfigError("--by, --over and --people are different questions: give one of them")
    if dropped and people is None:
        raise ConfigError("--dropped goes with --people STEP")
    if chart is not None and people is not None:
        raise ConfigError("--people lists customers: there is no chart of it")
    with _open(directory) as ws, ws.segment_scope(segment):
        steps = steps_from_text(step, ws.model, stages)
        kw = dict(window=window, order=order, exclude=exclude, per=per, since=since, until=until, stages=stages)
        if over is not None:
            result = f.funnel_trends(ws.store, steps, period=over, **kw)
        elif people is not None:
            result = f.funnel_people(ws.store, steps, step=people, dropped=dropped, limit=limit, **kw)
        elif by == "segments":
            from .analysis.segments import funnel_by_segments

            result = funnel_by_segments(ws.store, steps=steps, attribution=attribution, **kw)
        else:
            result = f.funnel(ws.store, steps, by=by, attribution=attribution, **kw)
        lang = lang or lang_default()
        names = _stage_names(ws.model, lang) if stages else None
    title = None
    if people is not None:  # who they are, and how many in all when only the first are listed
        step_name = step[people] if step else (names or {}).get(steps[people], steps[people])
        title = t("funnel.dropped" if dropped else "funnel.reached", lang, total=_fmt(result.total, lang),
                  step=people, name=step_name, shown=_fmt(len(result.people), lang))
    show(result, as_json, chart, lang, names=names, title=title)


@app.command()
@handle_errors
def paths(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    by: str = typer.Option("event", "--by", help="event, stage, touchpoint or channel."),
    start: Optional[str] = typer.Option(None, "--start", help="Only paths from this item on."),
    end: Optional[str] = typer.Option(None, "--end", help="Only paths up to this item."),
    depth: Optional[int] = typer.Option(None, "--depth", help="At most this many items per path."),
    min_share: float = typer.Option(0.0, "--min-share", help="Hide transitions below this share of customers."),
    segment: Optional[str] = SegmentOpt,
    chart: Optional[Path] = ChartOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Transitions between consecutive items, top path variants, step matrix, loops."""
    from .analysis.paths import paths as run_paths

    lang = lang or lang_default()
    with _open(directory) as ws, ws.segment_scope(segment):
        result = run_paths(ws.store, by=by, start=start, end=end, depth=depth, min_share=min_share)
        names = _stage_names(ws.model, lang) if by == "stage" else None
    show(result, as_json, chart, lang, table=_print_paths, names=names)


def _print_paths(result, lang: str, names: Optional[dict] = None, limit: int = 10) -> None:
    """The transitions, then what they alone do not tell: whole paths, loops, moves back."""
    import pandas as pd

    names = names or {}
    _print_frame(result.to_frame(), title=t("paths.transitions", lang, customers=_fmt(result.customers, lang)),
                 limit=2 * limit, lang=lang, names=names)
    variants = pd.DataFrame(
        [{**v, "path": " → ".join(str(names.get(i, i)) for i in v["path"])} for v in result.variants],
        columns=["path", "customers", "share", "converted", "conversion"])
    parts = [("paths.variants", variants), ("paths.loops", pd.DataFrame(result.loops, columns=["item", "customers", "returns"]))]
    if result.by == "stage":
        parts.append(("paths.backward", pd.DataFrame(result.backward_moves, columns=["from", "to", "count", "customers"])))
    for title, frame in parts:
        if len(frame):
            _print_frame(frame, title=t(title, lang), limit=limit, lang=lang, names=names)


@app.command()
@handle_errors
def retention(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    start_event: str = typer.Option("purchase", "--start-event", help="The event that puts a customer in a cohort."),
    return_event: Optional[str] = typer.Option(None, "--return-event", help="The event that counts as a return (default: any)."),
    period: str = typer.Option("week", "--period", help="day, week or month."),
    periods: int = typer.Option(12, "--periods", help="How many periods to show."),
    recurring: bool = typer.Option(False, "--recurring", help="Cohorts of every start event, not only the first."),
    segment: Optional[str] = SegmentOpt,
    chart: Optional[Path] = ChartOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Cohort retention, lifecycle (new, returning, resurrecting, dormant), repeat-purchase rate."""
    from .analysis.retention import retention as run_retention

    with _open(directory) as ws, ws.segment_scope(segment):
        result = run_retention(ws.store, start_event=start_event, return_event=return_event, period=period,
                               periods=periods, retention_type="recurring" if recurring else "first_time")
    show(result, as_json, chart, lang, table=_print_retention)


def _print_retention(result, lang: str, names: Optional[dict] = None) -> None:
    """The cohort matrix as people read it (a row per cohort, a column per period), the
    lifecycle per period, and the repeat-purchase rate."""
    import pandas as pd

    from .render.formats import pct
    from .render.labels import label

    matrix = pd.DataFrame([{"cohort": c["cohort"], "size": c["size"],
                            **{str(v["period"]): pct(v["share"], lang) for v in c["values"]}}
                           for c in result.cohorts])
    kind = t(f"retention.{result.retention_type}", lang, event=result.start_event)
    _print_frame(matrix, title=t("retention.cohorts", lang, kind=kind, period=t(f"retention.{result.period}", lang)),
                 lang=lang)
    lifecycle = pd.DataFrame(result.lifecycle, columns=["period", "new", "returning", "resurrecting", "dormant"])
    if len(lifecycle):
        _print_frame(lifecycle, title=t("retention.lifecycle", lang), lang=lang,
                     header=lambda c: _header(c, lang) if c == "period" else label(f"chart.{c}", lang))
    if result.purchasers:
        console.print(t("retention.repeat", lang, rate=pct(result.repeat_purchase_rate, lang, 1),
                        repeat=_fmt(result.repeat_purchasers, lang), purchasers=_fmt(result.purchasers, lang)),
                      highlight=False)


@app.command()
@handle_errors
def kpis(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    by: Optional[str] = typer.Option(None, "--by", help="channel (first touch), attributes.NAME, or segments (each saved segment)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only events on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only events before this date."),
    window: Optional[str] = typer.Option(None, "--window", help="Conversion window (default: journey.yaml's)."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Success indicators per stage of the journey model, against their targets."""
    from .analysis.kpis import stage_kpis

    _no_scope_with_segments(by, segment)
    with _open(directory) as ws, ws.segment_scope(segment):
        kw = dict(since=since, until=until, conversion_window=window, lang=lang or lang_default())
        if by == "segments":
            from .analysis.segments import kpis_by_segments

            result = kpis_by_segments(ws.store, ws.model, **kw)
        else:
            result = stage_kpis(ws.store, ws.model, by=by, **kw)
    if as_json:
        print_json(result.to_dict())
        return
    _print_stage_kpis(result.to_dict(), lang or lang_default())


MEASURES = ("reach", "impressions", "median_seconds", "pages_per_person", "click_through", "conversion",
            "abandonment", "sales", "repurchase_rate", "referral_rate", "backward_rate", "channel_mix")


#: What the breakdown of ``kpis --by`` shows for each group, with the catalogue key of its short name.
GROUP_MEASURES = {"reach": "col.customers", "conversion": "col.conversion", "median_seconds": "col.median_time"}


def _print_stage_kpis(result: dict, lang: str) -> None:
    """Stages as columns, measures as rows; then the declared KPIs against their targets; then,
    with ``--by``, the main measures of each group."""
    from .render.formats import cell, pct
    from .render.labels import label

    stages = result["stages"]
    table = DataTable()
    table.add_column(t("col.measure", lang))
    for st in stages:
        table.add_column(st["label"], justify="right")
    for m in MEASURES:
        if m == "channel_mix":
            cells = [", ".join(f"{c} {pct(v, lang)}" for c, v in (st.get(m) or {}).items()) for st in stages]
        else:
            cells = [cell(m, st.get(m), lang) for st in stages]
        table.add_row(label(f"measure.{m}", lang), *cells)
    console.print(table, crop=False)
    targets = DataTable()
    for key in ("stage", "kpi", "value", "target", "met"):
        targets.add_column(t(f"col.{key}", lang))
    for st in stages:
        for k in st["kpis"]:
            met = {True: "✔", False: "✘", None: "?"}[k["met"]]
            targets.add_row(st["label"], k.get("label") or k["id"], cell(k["metric"], k["value"], lang),
                            cell(k["metric"], k["target"], lang), met)
    console.print(targets, crop=False)
    if result.get("breakdown"):
        groups = DataTable(title=t("kpis.breakdown", lang, by=result["by"]))
        groups.add_column(t("col.group", lang))
        groups.add_column(t("col.measure", lang), min_width=max(len(t(k, lang)) for k in GROUP_MEASURES.values()))
        for st in stages:
            groups.add_column(st["label"], justify="right")
        for g in result["breakdown"]:
            of_stage = {s["stage"]: s for s in g["stages"]}
            for i, (m, name) in enumerate(GROUP_MEASURES.items()):
                groups.add_row("—" if g["group"] is None else str(g["group"]) if i == 0 else "", t(name, lang),
                               *[cell(m, of_stage.get(st["stage"], {}).get(m), lang) for st in stages])
            groups.add_section()
        console.print(groups, crop=False)


def _fmt(v, lang: Optional[str] = None) -> str:
    """A lone number in a sentence or a table, the reader's way."""
    from .render.formats import cell

    return cell("", v, lang or lang_default())


@app.command()
@handle_errors
def generate(
    out: Path = typer.Argument(..., help="Folder to write events, customers, feedback, spend and truth.json into."),
    customers: int = typer.Option(20000, "--customers", help="How many people to simulate."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same files."),
    frictions: Optional[str] = typer.Option("default", "--frictions",
                                            help="A frictions YAML file, 'default', or 'none' for none."),
    locale: str = typer.Option("fr", "--locale", help="Language of verbatims: fr or en."),
    fmt: str = typer.Option("parquet", "--format", help="parquet, csv or jsonl."),
    as_json: bool = JsonOpt,
):
    """Write a realistic omnichannel data set with planted frictions and their ground truth."""
    from .synth import generate as run_generate

    report = run_generate(out, customers=customers, seed=seed,
                          frictions=None if frictions == "none" else frictions, locale=locale, format=fmt)
    data = report.to_dict()
    if as_json:
        print_json(data)
    else:
        console.print_json(data=data)


@app.command()
@handle_errors
def demo(
    directory: Path = typer.Argument(Path("demo"), help="Folder of the demo workspace."),
    customers: int = typer.Option(20000, "--customers", help="How many customers to generate."),
    seed: int = typer.Option(0, "--seed"),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write DIR/report.html (the manager's report)."),
    lang: Optional[str] = LangOpt,
):
    """Build a demo workspace from generated data and show what parcours finds in it."""
    from .demo import run_demo

    run_demo(directory, customers=customers, seed=seed, lang=lang or lang_default(), console=console, report=report)


segment_app = typer.Typer(help="Saved segments: add, list, show, update, drop.", no_args_is_help=True)
app.add_typer(segment_app, name="segment")


@segment_app.command("add")
@handle_errors
def segment_add(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    name: str = typer.Argument(..., help="Segment name (letters, digits, _ . -)."),
    rule: List[str] = typer.Option([], "--rule", help="A rule, e.g. 'segment = b2b', 'age >= 30', "
                                   "'did purchase >= 2 within 90d', 'first_channel = search' (repeatable)."),
    any_rule: bool = typer.Option(False, "--any", help="Members meet at least one rule (default: all)."),
    rfm_segment: Optional[str] = typer.Option(None, "--rfm", help="A named RFM segment: champions, loyal, at_risk ..."),
    cluster: Optional[int] = typer.Option(None, "--cluster", help="Cluster the journeys in K groups: saves NAME-1 .. NAME-K."),
    seed: int = typer.Option(0, "--seed", help="Seed of the clustering."),
    replace: bool = typer.Option(False, "--replace", help="Replace a segment of the same name."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Save a segment from rules, an RFM segment or clusters of journeys."""
    from .analysis.segments import save_clusters

    if sum([bool(rule), rfm_segment is not None, cluster is not None]) != 1:
        err_console.print(f"[bold red]{t('error', lang)}[/]: {t('segment.one_kind', lang)}")
        raise typer.Exit(2)
    with _open(directory) as ws:
        if cluster is not None:
            saved = save_clusters(ws.store, name, cluster, seed, replace=replace)
        else:
            definition = ({"kind": "rfm", "segment": rfm_segment} if rfm_segment is not None
                          else {"kind": "rules", "rules": rule, "match": "any" if any_rule else "all"})
            saved = [ws.save_segment(name, definition, replace=replace)]
    if as_json:
        print_json([s.to_dict() for s in saved])
        return
    for s in saved:
        console.print(t("segment.saved", lang, name=s.name, members=s.members))


@segment_app.command("list")
@handle_errors
def segment_list(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """The saved segments, their definitions and sizes."""
    with _open(directory, read_only=True) as ws:
        result = ws.segments()
    if as_json:
        print_json(result.to_dict())
        return
    if not result.segments:
        console.print(t("segment.none", lang))
        return
    table = DataTable()
    for key in ("segment", "kind", "members", "created", "definition"):
        table.add_column(t(f"col.{key}", lang))
    for s in result.segments:
        table.add_row(s.name, s.kind, f"{s.members:,}", str(s.created_at)[:19],
                      json.dumps(s.definition, ensure_ascii=False))
    console.print(table)


@segment_app.command("show")
@handle_errors
def segment_show(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    name: str = typer.Argument(..., help="Segment name."),
    limit: int = typer.Option(50, "--limit", help="How many members to print (all with --json)."),
    as_json: bool = JsonOpt,
):
    """A segment's definition and its members (person ids)."""
    with _open(directory, read_only=True) as ws:
        result = ws.segment(name)
    if as_json:
        print_json(result.to_dict())
        return
    console.print_json(data=result.segment.to_dict())
    _print_frame(result.to_frame(), limit=limit)


@segment_app.command("rfm")
@handle_errors
def segment_rfm(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Recency up to this date (default: the latest event)."),
    purchase_event: str = typer.Option("purchase", "--purchase-event", help="The event that is a purchase."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """RFM scores per person and the size of each named RFM segment (to pick one for --rfm)."""
    from .analysis.rfm import rfm

    with _open(directory, read_only=True) as ws:
        result = rfm(ws.store, as_of=as_of, purchase_event=purchase_event)
    if as_json:
        print_json(result.to_dict())
        return
    table = DataTable()
    table.add_column(t("col.segment", lang))
    table.add_column(t("col.members", lang), justify="right")
    for name, n in result.segments.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


@segment_app.command("update")
@handle_errors
def segment_update(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    name: str = typer.Argument(..., help="Segment name."),
    lang: Optional[str] = LangOpt,
):
    """Evaluate a saved segment again on the current data."""
    from .analysis.segments import update_segment

    with _open(directory) as ws:
        s = update_segment(ws.store, name)
    console.print(t("segment.saved", lang, name=s.name, members=s.members))


@segment_app.command("drop")
@handle_errors
def segment_drop(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    name: str = typer.Argument(..., help="Segment name."),
    lang: Optional[str] = LangOpt,
):
    """Delete a saved segment and its members."""
    with _open(directory) as ws:
        ws.drop_segment(name)
    console.print(t("segment.dropped", lang, name=name))


@app.command()
@handle_errors
def compare(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    segment: List[str] = typer.Option([], "--segment", help="Two saved segments: --segment A --segment B."),
    step: List[str] = typer.Option([], "--step", "-s", help="Funnel steps (default: the model's stages)."),
    window: Optional[str] = typer.Option(None, "--window", help="Conversion window (default: journey.yaml's)."),
    top: int = typer.Option(10, "--top", help="Stage transitions compared: the top ones of each segment."),
    alpha: float = typer.Option(0.05, "--alpha", help="False discovery rate (Benjamini-Hochberg)."),
    all_rows: bool = typer.Option(False, "--all", help="Show every comparison, not only significant ones."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Two segments side by side (funnel, stage KPIs, paths, feedback), significant differences flagged."""
    from .analysis.compare import compare as run_compare

    if len(segment) != 2:
        raise ConfigError("compare needs exactly two segments: --segment A --segment B")
    lang = lang or lang_default()
    with _open(directory, read_only=True) as ws:
        result = run_compare(ws.store, ws.model, segment[0], segment[1],
                             steps=[parse_step_text(s) for s in step] or None, window=window,
                             top=top, alpha=alpha, lang=lang)
    if as_json:
        print_json(result.to_dict())
        return
    frame = result.to_frame()
    if not all_rows:
        frame = frame[frame["significant"]]
    if frame.empty:
        console.print(t("compare.none", lang))
        return
    table = DataTable(title=t("compare.title", lang, a=segment[0], b=segment[1], alpha=alpha))
    for key in ("measure", "where"):
        table.add_column(t(f"col.{key}", lang))
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for key in ("effect", "q_value", "significant"):
        table.add_column(t(f"col.{key}", lang), justify="right")
    for r in frame.itertuples(index=False):
        table.add_row(r.measure, str(r.where), _fmt(_num(r.a), lang), _fmt(_num(r.b), lang), _fmt(_num(r.effect), lang),
                      "" if _num(r.q_value) is None else f"{r.q_value:.2g}", "✔" if r.significant else "")
    console.print(table)


def _num(v):
    return None if v is None or (isinstance(v, float) and v != v) else v


def _no_scope_with_segments(by: str | None, segment: str | None) -> None:
    """``--by segments`` runs once per saved segment: it cannot also be inside one."""
    if by == "segments" and segment is not None:
        raise ConfigError("--by segments and --segment cannot be combined: compare segments with parcours compare")


@app.command()
@handle_errors
def serve(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_pending: int = typer.Option(100_000, "--max-pending",
                                    help="Events accepted but not yet written before requests get 429."),
    refresh_every: float = typer.Option(30.0, "--refresh-every",
                                        help="Seconds between background refreshes when data came in (0: only POST /v1/refresh)."),
    act_every: float = typer.Option(60.0, "--act-every",
                                    help="Seconds between orchestration runs when scenarios/*.yaml exist (0: only parcours run)."),
    lang: Optional[str] = LangOpt,
):
    """Serve the HTTP API: Segment-compatible ingestion (/v1/*) and the query API (/api/v1/*)."""
    import uvicorn

    from .web.app import create_app

    api = create_app(directory, max_pending=max_pending, refresh_interval=refresh_every or None,
                     act_interval=act_every or None)
    err_console.print(t("serve.start", lang, url=f"http://{host}:{port}", dir=directory))
    uvicorn.run(api, host=host, port=port, log_level="warning")


key_app = typer.Typer(help="API keys: write keys ingest, read keys query.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command("add")
@handle_errors
def key_add(
    directory: Path = typer.Argument(..., help="Workspace folder (the server must be stopped)."),
    kind: str = typer.Option(..., "--kind", help="write (ingestion) or read (query API)."),
    name: Optional[str] = typer.Option(None, "--name", help="A label to recognise the key by."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Create a key and print it once: only its hash is stored."""
    from .web.keys import add_key

    with _open(directory) as ws:
        key, record = add_key(ws.store, kind, name)
    if as_json:
        print_json({"key": key, **record.to_dict()})
        return
    sys.stdout.write(key + "\n")
    err_console.print(t("key.added", lang, kind=kind, key_id=record.key_id))


@key_app.command("list")
@handle_errors
def key_list(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """List the keys (ids, kinds, names, dates; never the keys themselves)."""
    from .web.keys import list_keys

    with _open(directory) as ws:
        keys = [k.to_dict() for k in list_keys(ws.store)]
    if as_json:
        print_json({"keys": keys})
        return
    table = DataTable()
    for col in ("key_id", "key_kind", "key_name", "created_at", "revoked_at"):
        table.add_column(t(f"col.{col}", lang))
    for k in keys:
        table.add_row(*["" if v is None else str(v) for v in k.values()])
    console.print(table)


@key_app.command("revoke")
@handle_errors
def key_revoke(
    directory: Path = typer.Argument(..., help="Workspace folder (the server must be stopped)."),
    key_id: str = typer.Argument(..., help="The key's id (see `parcours key list`) or the key itself."),
    lang: Optional[str] = LangOpt,
):
    """Revoke a key: it is refused from the next server start on."""
    from .web.keys import revoke_key

    with _open(directory) as ws:
        record = revoke_key(ws.store, key_id)
    console.print(t("key.revoked", lang, key_id=record.key_id))


@app.command()
@handle_errors
def attribution(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    conversion: str = typer.Option(..., "--conversion", help="The event that is a conversion, e.g. purchase."),
    touch: str = typer.Option("channel", "--touch", help="What gets the credit: channel, touchpoint or campaign."),
    model: str = typer.Option("markov", "--model", help="markov, first, last, linear, time_decay or position."),
    lookback: str = typer.Option("30d", "--lookback", help="Touches at most this long before the conversion: 30d, 12h."),
    order: int = typer.Option(1, "--order", help="Markov chain order: a state is the last N touches."),
    half_life: str = typer.Option("7d", "--half-life", help="Half-life of the time_decay model."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Conversions and value credited to channels, touchpoints or campaigns (Markov or heuristics)."""
    from .analysis.attribution import attribution as run_attribution

    lang = lang or lang_default()
    with _open(directory) as ws, ws.segment_scope(segment):
        result = run_attribution(ws.store, conversion=conversion, touch=touch, model=model, lookback=lookback,
                                 order=order, half_life=half_life)
    show(result, as_json, lang=lang, title=t("attribution.title", lang, model=model, touch=t(f"col.{touch}", lang),
                                             conversions=result.conversions, value=_fmt(result.value, lang)))


@app.command()
@handle_errors
def cac(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    by: Optional[str] = typer.Option(None, "--by", help="channel or campaign (first touch of the new customer)."),
    period: str = typer.Option("month", "--period", help="day, week, month, quarter or year."),
    new_customer_event: str = typer.Option("purchase", "--new-customer-event",
                                           help="A customer is new at their first such event."),
    since: Optional[str] = typer.Option(None, "--since", help="Only spend and first purchases on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only spend and first purchases before this date."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Customer acquisition cost: spend / new customers, per period and channel or campaign."""
    from .analysis.cac import cac as run_cac

    lang = lang or lang_default()
    with _open(directory) as ws:
        result = run_cac(ws.store, by=by, period=period, new_customer_event=new_customer_event,
                         since=since, until=until)
    total = result.total
    show(result, as_json, lang=lang, title=t("cac.total", lang, spend=_fmt(total["spend"], lang),
                                             new=total["new_customers"], cac=_fmt(total["cac"], lang)))


@app.command()
@handle_errors
def clv(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    purchase_event: str = typer.Option("purchase", "--purchase-event", help="The event that is a purchase."),
    calibration_end: Optional[str] = typer.Option(None, "--calibration-end",
                                                  help="Fit on purchases up to this date (default: the last event)."),
    unit: str = typer.Option("week", "--unit", help="Time unit of the models: day or week."),
    horizon: int = typer.Option(52, "--horizon", help="Predict over this many units."),
    margin: float = typer.Option(1.0, "--margin", help="Share of a purchase's value that is margin."),
    discount_rate: Optional[float] = typer.Option(None, "--discount-rate", help="Discount rate per unit (none: undiscounted)."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Historical and predictive CLV per customer (BG/NBD and Gamma-Gamma), P(alive), expected purchases."""
    from .analysis.clv import clv as run_clv

    lang = lang or lang_default()
    with _open(directory) as ws, ws.segment_scope(segment):
        result = run_clv(ws.store, purchase_event=purchase_event, calibration_end=calibration_end, unit=unit,
                         horizon=horizon, margin=margin, discount_rate=discount_rate)

    def params(d):
        return ", ".join(f"{k}={v:.4g}" for k, v in d.items()) if d else t("clv.not_fitted", lang)

    show(result, as_json, lang=lang, title=t("clv.params", lang, bgnbd=params(result.params),
                                             gg=params(result.gamma_gamma), horizon=horizon,
                                             unit=t(f"unit.{unit}", lang)))


# -- orchestration (act/) ------------------------------------------------------------------
scenario_app = typer.Typer(help="Orchestration scenarios of a workspace (scenarios/*.yaml).", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("add")
@handle_errors
def scenario_add(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    template: str = typer.Option(..., "--template", "-t", help="Built-in scenario, e.g. abandoned-cart."),
    force: bool = typer.Option(False, "--force", help="Overwrite a scenario file of the same name."),
    lang: Optional[str] = LangOpt,
):
    """Copy a built-in scenario template into DIR/scenarios/ to edit it there."""
    from .act.scenario import add_template

    path = add_template(directory, template, overwrite=force)
    console.print(t("act.added", lang, name=template, path=path))


@scenario_app.command("list")
@handle_errors
def scenario_list(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """The workspace's scenarios (entry, steps, goal, holdout) and the built-in templates."""
    import pandas as pd

    from .act.scenario import list_templates, load_scenarios

    rows = [{"scenario": s.name, "entry": s.entry.kind, "steps": len(s.steps),
             "goal": s.goal.event.event if s.goal else None, "holdout": s.holdout, "enabled": s.enabled}
            for s in load_scenarios(directory)]
    if as_json:
        print_json({"scenarios": rows, "templates": list_templates()})
        return
    lang = lang or lang_default()
    frame = pd.DataFrame(rows, columns=["scenario", "entry", "steps", "goal", "holdout", "enabled"])
    _print_frame(frame, lang=lang, header=lambda c: _act_label(c, lang))
    console.print(f"{t('col.template', lang)}: {', '.join(list_templates())}")


@scenario_app.command("check")
@handle_errors
def scenario_check(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    lang: Optional[str] = LangOpt,
):
    """Validate act.yaml and every scenario; errors name the file, line and field."""
    from .act.check import check

    segments = None
    if (directory / "parcours.duckdb").exists():
        with _open(directory) as ws:
            segments = {r[0] for r in ws.store.fetch("SELECT name FROM segments")} if ws.store.has_table("segments") else set()
    scenarios, warnings = check(directory, segments)
    if not scenarios:
        console.print(t("act.none", lang, dir=directory))
        return
    console.print(t("act.valid", lang, n=len(scenarios), names=", ".join(s.name for s in scenarios)))
    for w in warnings:
        err_console.print(f"[yellow]{t('act.warning', lang)}[/]: {w}", highlight=False, soft_wrap=True)


def _act_label(name: str, lang: str) -> str:
    """``goal.treated_rate`` -> ``objectif · taux des traités``: each known part translated."""
    from .i18n import MESSAGES

    return " · ".join(t(f"act.col.{p}", lang) if f"act.col.{p}" in MESSAGES else p for p in str(name).split("."))


def _act_time(value: Optional[str]):
    from .analysis._common import as_time

    try:
        return as_time(value)
    except ParcoursError as exc:
        raise ConfigError(str(exc)) from None


@app.command("run")
@handle_errors
def run_(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    until: Optional[str] = typer.Option(None, "--until", help="Run as if it were this time (ISO 8601, UTC); default now."),
    no_deliver: bool = typer.Option(False, "--no-deliver", help="Decide and queue messages, send nothing."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Execute the due steps of every scenario: entries, waits, actions, then deliver the outbox."""
    from rich.progress import Progress

    from .act.engine import run_due

    with _open(directory) as ws, Progress(console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task(t("act.progress", lang), total=None)
        report = run_due(ws, _act_time(until), deliver_messages=not no_deliver,
                         on_batch=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        print_json(report.to_dict())
        return
    lang = lang or lang_default()
    frame = report.to_frame()
    if len(frame):
        _print_frame(frame, lang=lang, header=lambda c: _act_label(c, lang))
    console.print(t("act.ran", lang, now=report.now.isoformat(sep=" "), customers=report.customers,
                    events=report.events_written, sent=report.delivery.sent))
    for hook, n in report.delivery.waiting.items():
        console.print(t("act.waiting", lang, n=n, hook=hook))
    if report.delivery.failed:
        console.print(t("act.failed", lang, n=report.delivery.failed))


@app.command()
@handle_errors
def simulate(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario name."),
    since: Optional[str] = typer.Option(None, "--since", help="First entry time replayed (ISO 8601)."),
    until: Optional[str] = typer.Option(None, "--until", help="Replay up to this time (default: last event)."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Replay history through a scenario, sending nothing: entered, contacted, goal reached."""
    from .act.simulate import simulate as run_simulation

    with _open(directory) as ws:
        result = run_simulation(ws, scenario, _act_time(since), _act_time(until))
    if as_json:
        print_json(result.to_dict())
        return
    lang = lang or lang_default()
    frame = result.to_frame()
    frame["measure"] = [_act_label(m, lang) for m in frame["measure"]]
    _print_frame(frame, title=scenario, lang=lang, header=lambda c: _act_label(c, lang))


@app.command("lift")
@handle_errors
def lift_(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario name."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the interval."),
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Effect of a scenario on its goal: treated against holdout, with a confidence interval."""
    from .act.lift import lift
    from .act.scenario import find_scenario, load_scenarios

    with _open(directory) as ws:
        result = lift(ws.store, find_scenario(load_scenarios(directory), scenario), confidence=confidence)
    if as_json:
        print_json(result.to_dict())
        return
    lang = lang or lang_default()
    _print_frame(result.to_frame(), title=scenario, lang=lang, header=lambda c: _act_label(c, lang))
    if result.difference is None:
        console.print(t("act.lift_na", lang, scenario=scenario))
        return
    pct = lambda v: f"{100 * v:+.2f} pt" if v is not None else "-"  # noqa: E731
    rate = lambda v: f"{100 * v:.2f} %" if v is not None else "-"  # noqa: E731
    console.print(t("act.lift", lang, scenario=scenario, goal=result.goal, window=result.window,
                    tr=rate(result.treated_rate), tn=result.treated, hr=rate(result.holdout_rate),
                    hn=result.holdout, d=pct(result.difference), lo=pct(result.low), hi=pct(result.high),
                    conf=round(100 * confidence)))


@app.command("map")
@handle_errors
def map_(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="FILE.html, .md, .json, .png or .svg (default: the table, or JSON with --json)."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Only this persona's empathy map."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """The journey map: stage columns, lanes from the data, designed vs lived, empathy maps."""
    from .render.labels import label
    from .render.map_data import journey_map
    from .render.map_html import map_format, write_map

    lang = lang or lang_default()
    if out is not None:
        map_format(out)  # a wrong extension fails before the work
    with _open(directory) as ws, ws.segment_scope(segment):
        result = journey_map(ws.store, ws.model, lang=lang, persona=persona, scope=segment)
    if out is not None:
        console.print(label("cli.written", lang, path=write_map(result, out)), soft_wrap=True)
    elif as_json:
        print_json(result.to_dict())
    else:
        frame = result.to_frame()
        table = DataTable(title=result.title)
        table.add_column("")
        for name in frame["label"]:
            table.add_column(str(name), justify="right")
        for col in frame.columns[2:]:
            table.add_row(label(f"cli.{col}", lang), *[_fmt(None if v != v else v, lang) for v in frame[col].tolist()])
        console.print(table)
        share = result.designed_vs_lived["share"]
        console.print(label("cli.designed_share", lang, share="—" if share is None else f"{share:.1%}"))


@app.command()
@handle_errors
def report(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="report.html (or .json for its data)."),
    segment: Optional[str] = SegmentOpt,
    lang: Optional[str] = LangOpt,
):
    """One self-contained page for a manager: health, map, funnel, paths, KPIs, pain points, feedback, CAC, CLV."""
    from .render.labels import label
    from .render.report import build_report, report_format, write_report

    lang = lang or lang_default()
    report_format(out)
    with _open(directory) as ws, ws.segment_scope(segment):
        result = build_report(ws.store, ws.model, lang=lang, scope=segment)
    path = write_report(result, out, source=str(directory))
    console.print(label("cli.report_written", lang, path=path), soft_wrap=True)


@app.command("feedback")
@handle_errors
def feedback_(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    by: Optional[str] = typer.Option(None, "--by", help="stage, touchpoint, channel, segment or a customer attribute."),
    since: Optional[str] = typer.Option(None, "--since", help="Only answers on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only answers before this date."),
    period: Optional[str] = typer.Option(None, "--period", help="Trend per day, week or month."),
    no_text: bool = typer.Option(False, "--no-text", help="Skip verbatim sentiment and themes."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """NPS with its confidence interval, CSAT, CES, emotion, verbatim sentiment and themes."""
    from .analysis.feedback import feedback as run_feedback

    with _open(directory, read_only=True) as ws, ws.segment_scope(segment):
        result = run_feedback(ws.store, by=by, since=since, until=until, period=period,
                              text_scores=None if no_text else "model")
    if as_json:
        print_json(result.to_dict())
        return
    _print_feedback(result, lang or lang_default())


def _with_n(value, n: int | None, digits: int, lang: str, sign: bool = False) -> str:
    """A measure and its number of answers: ``33,3 (n=3)``."""
    from .render.formats import num, signed

    if value is None:
        return ""
    return (signed if sign else num)(value, lang, digits) + ("" if n is None else f" (n={num(n, lang)})")


def _print_feedback(result, lang: str) -> None:
    """Measures per scope (all, then each group), the trend, then verbatim sentiment and themes."""
    o = result.overall
    if not o["counts"]:
        console.print(t("feedback.none", lang))
        return

    from .render.formats import interval, pct, signed

    def measures(table: Table, first: list[str], m: dict) -> None:
        n, c, e = m["nps"], m["csat"], m["ces"]
        ci = "" if n["ci_low"] is None else interval(n["ci_low"], n["ci_high"], lang)
        table.add_row(*first, _with_n(n["score"], n["n"], 1, lang), ci, _with_n(c["score"], c["n"], 1, lang),
                      _with_n(c["mean"], None, 2, lang), _with_n(e["mean"], e["n"], 2, lang),
                      _with_n(m["emotion"]["score"], None, 2, lang, sign=True))

    def header(title: str, first: list[str]) -> Table:
        table = DataTable(title=title)
        for key in first + ["nps", "nps_ci", "csat", "csat_mean", "ces", "emotion"]:
            table.add_column(t(f"col.{key}", lang), justify="left" if key in first else "right")
        return table

    table = header(t("feedback.title", lang), ["group"])
    measures(table, [t("feedback.all", lang)], o)
    for g in result.groups:
        measures(table, ["—" if g["group"] is None else str(g["group"])], g)
    console.print(table)
    if result.trend:
        first = ["period"] + (["group"] if result.by else [])
        table = header(t("feedback.trend", lang), first)
        for row in result.trend:
            cells = [row["period"]] + (["—" if row["group"] is None else str(row["group"])] if result.by else [])
            measures(table, cells, row)
        console.print(table)
    v = result.verbatims
    if v and v["n"]:
        console.print(t("feedback.verbatims", lang, n=v["n"], negative=v["negative"], neutral=v["neutral"],
                        positive=v["positive"], mean=signed(v["mean"], lang)))
        table = DataTable(title=t("feedback.themes", lang))
        for key in ("theme", "verbatims", "share", "sentiment", "example"):
            table.add_column(t(f"col.{key}", lang), justify="right" if key in ("verbatims", "share", "sentiment") else "left")
        for th in v["themes"]:
            example = th["examples"][0]["text"] if th["examples"] else ""
            table.add_row(th[f"label_{lang}"], _fmt(th["verbatims"], lang), pct(th["share"], lang), signed(th["sentiment"], lang),
                          example if len(example) <= 80 else example[:77] + "...")
        console.print(table)


@app.command()
@handle_errors
def painpoints(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    fdr: float = typer.Option(0.01, "--fdr", help="False discovery rate over all places tested."),
    since: Optional[str] = typer.Option(None, "--since", help="Only events on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only events before this date."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Frictions with evidence, period, impact, verbatims and actions, costliest first."""
    from .analysis.painpoints import painpoints as run_painpoints

    with _open(directory) as ws, ws.segment_scope(segment):
        result = run_painpoints(ws.store, fdr=fdr, since=since, until=until)
    if as_json:
        print_json(result.to_dict())
        return
    _print_painpoints(result, lang or lang_default())


def _print_painpoints(result, lang: str) -> None:
    """One block per pain point: what and where, the evidence, the cost, a verbatim, actions."""
    if not result.painpoints:
        console.print(t("painpoints.none", lang, tested=result.tested, fdr=result.fdr))
        return
    console.print(f"[bold]{t('painpoints.title', lang)}[/]")
    for i, p in enumerate(result.painpoints, 1):
        where = " · ".join(str(v) for v in p.place.values() if v is not None)
        when = t("painpoints.always", lang) if p.start is None else f"{p.start} → {p.end}"
        e, imp = p.evidence, p.impact
        metric = e.get("metric_fr") if lang == "fr" else e.get("metric")
        console.print(f"\n[bold]{i}. {p.label(lang)}[/] — {where} — {when}", highlight=False)
        console.print(f"   {metric} : {_fmt(e.get('value'), lang)} / {_fmt(e.get('baseline'), lang)} "
                      f"(p={e['p_value']:.1g}, q={e['q_value']:.1g}, n={e.get('n')})", highlight=False)
        console.print(f"   {t('col.lost_per_month', lang)} : {_fmt(imp.get('lost_conversions_per_month'), lang)} ; "
                      f"{t('col.revenue_per_month', lang)} : {_fmt(imp.get('lost_revenue_per_month'), lang)}", highlight=False)
        for v in p.verbatims[:1]:
            console.print(f"   « {v} »", highlight=False)
        for a in p.actions[:2]:
            console.print(f"   → {a[lang]}", highlight=False)


@app.command()
@handle_errors
def moments(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    min_exposed: int = typer.Option(30, "--min-exposed", help="Only touchpoints met by at least this many people."),
    outcome: str = typer.Option("conversion", "--outcome", help="conversion, retention (repeat purchase) or satisfaction."),
    segment: Optional[str] = SegmentOpt,
    as_json: bool = JsonOpt,
    lang: Optional[str] = LangOpt,
):
    """Moments of truth: touchpoints whose presence changes conversion most, adjusted for progress."""
    from .analysis.moments import moments_of_truth

    with _open(directory) as ws, ws.segment_scope(segment):
        result = moments_of_truth(ws.store, outcome=outcome, min_exposed=min_exposed)
    if as_json:
        print_json(result.to_dict())
        return
    from .render.formats import interval, num, signed

    lang = lang or lang_default()
    table = DataTable(title=t(f"moments.title.{result.outcome}", lang))
    for key in ("col.touchpoint", "col.channel", "col.stage", "col.exposed", "moments.effect", "col.interval",
                "col.crude", "moments.significant"):
        table.add_column(t(key, lang), justify="left" if key in ("col.touchpoint", "col.channel", "col.stage") else "right")
    for m in result.moments:
        table.add_row(m.touchpoint, m.channel or "", m.stage or "", num(m.exposed, lang), signed(m.effect, lang, 3),
                      interval(m.low, m.high, lang, 3, sign=True), signed(m.crude, lang, 3),
                      "✔" if m.significant else "")
    console.print(table)


user_app = typer.Typer(help="Dashboard users: admin, analyst or viewer.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
@handle_errors
def user_add(
    directory: Path = typer.Argument(..., help="Workspace folder (the server must be stopped)."),
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("viewer", "--role", help="admin, analyst or viewer."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from stdin instead of generating one."),
    lang: Optional[str] = LangOpt,
):
    """Create a dashboard user; prints a generated password once (only its scrypt hash is stored)."""
    from .web.users import add_user

    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with _open(directory) as ws:
        password, user = add_user(ws.store, name, role, given)
    if given is None:
        console.print(t("user.added", lang, name=user.name, role=user.role, password=password), soft_wrap=True)
    else:
        console.print(t("user.added_stdin", lang, name=user.name, role=user.role))


@user_app.command("list")
@handle_errors
def user_list(
    directory: Path = typer.Argument(..., help="Workspace folder."),
    as_json: bool = JsonOpt,
):
    """List the dashboard users and their roles (never their passwords)."""
    from .web.users import list_users

    with _open(directory) as ws:
        users = [u.to_dict() for u in list_users(ws.store)]
    if as_json:
        print_json({"users": users})
        return
    for u in users:
        console.print(f"{u['name']}\t{u['role']}\t{u['created_at']}")


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
