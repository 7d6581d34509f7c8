"""Plotly figures of the journey analyses, drawn from their ``to_dict()``.

One place draws a funnel, a Sankey, a cohort table or a trend, so the report, the map and
``parcours funnel|paths|retention --chart FILE.html`` show the same picture of the same
numbers. Each result's ``chart(lang)`` is the first of its :func:`figures`.
"""

from __future__ import annotations

from pathlib import Path

from .html import esc, figure_html, page
from .labels import label

__all__ = ["figures", "funnel_figure", "sankey_figure", "write_charts"]


def _short(seconds) -> str:
    """An upper bin edge as people read it: 5 min, 6 h, 14 d."""
    if seconds is None:
        return "∞"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g} {unit}"
    return f"{seconds:g} s"


def funnel_figure(steps: list[dict], *, names: list[str] | None = None, groups: list[dict] = ()):
    """Customers at each step (``steps`` of a funnel's ``to_dict()``), with one funnel per
    breakdown group beside the total when ``groups`` are given."""
    import plotly.graph_objects as go

    names = names or [s["name"] for s in steps]
    fig = go.Figure()
    traces = [(None, steps)] + [(str(g["value"]), g["steps"]) for g in groups]
    for name, st in traces:
        fig.add_trace(go.Funnel(name=name, y=names, x=[s["count"] for s in st],
                                textinfo="value+percent initial" if len(traces) == 1 else "value"))
    fig.update_layout(height=max(260, 60 * len(steps) + 80), showlegend=len(traces) > 1)
    return fig


def sankey_figure(sankey: dict, height: int = 420):
    """A paths Sankey from ``PathsResult.sankey()`` (one node per step and item)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Sankey(node=dict(label=sankey["node"]["label"], pad=12, thickness=12),
                              link=dict(source=sankey["link"]["source"], target=sankey["link"]["target"],
                                        value=sankey["link"]["value"])))
    fig.update_layout(height=height)
    return fig


def _time_to_convert(d: dict, lang: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    for h in d.get("time_to_convert", []):
        fig.add_trace(go.Bar(name=h["name"], x=[_short(b["upper_seconds"]) for b in h["bins"]],
                             y=[b["count"] for b in h["bins"]]))
    fig.update_layout(barmode="group", height=320, xaxis_title=label("chart.up_to", lang),
                      yaxis_title=label("chart.customers", lang))
    return fig


def _trends(d: dict, lang: str):
    import plotly.graph_objects as go

    periods = [p["period"] for p in d["periods"]]
    last = [p["steps"][-1] for p in d["periods"]]
    fig = go.Figure([
        go.Bar(name=label("chart.entered", lang), x=periods, y=[p["steps"][0]["count"] for p in d["periods"]]),
        go.Scatter(name=label("chart.conversion", lang), x=periods, mode="lines+markers", yaxis="y2",
                   y=[s["conversion_from_first"] for s in last]),
    ])
    fig.update_layout(height=340, yaxis=dict(title=label("chart.customers", lang)),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      yaxis2=dict(title=label("chart.conversion", lang), overlaying="y", side="right",
                                  tickformat=".0%", rangemode="tozero"))
    return fig


def _cohorts(d: dict, lang: str):
    import plotly.graph_objects as go

    cohorts = d["cohorts"]
    width = max((len(c["values"]) for c in cohorts), default=0)
    z = [[(v["share"] if v["share"] is not None else None) for v in c["values"]] + [None] * (width - len(c["values"]))
         for c in cohorts]
    fig = go.Figure(go.Heatmap(z=z, x=list(range(width)), y=[f'{c["cohort"]} ({c["size"]})' for c in cohorts],
                               colorscale="Blues", zmin=0, zmax=1, texttemplate="%{z:.0%}", hoverongaps=False))
    fig.update_layout(height=max(260, 28 * len(cohorts) + 120), yaxis=dict(autorange="reversed"),
                      xaxis=dict(title=label("chart.periods_after", lang, unit=label(f"chart.unit.{d['period']}", lang)),
                                 dtick=1))
    return fig


def _lifecycle(d: dict, lang: str):
    import plotly.graph_objects as go

    rows = d["lifecycle"]
    x = [r["period"] for r in rows]
    fig = go.Figure([go.Bar(name=label(f"chart.{k}", lang), x=x, y=[-r[k] if k == "dormant" else r[k] for r in rows])
                     for k in ("new", "returning", "resurrecting", "dormant")])
    fig.update_layout(barmode="relative", height=320, yaxis_title=label("chart.customers", lang))
    return fig


def figures(result, lang: str = "fr") -> list[tuple[str, object]]:
    """``[(title, plotly figure)]`` of a funnel, funnel-trends, paths or retention result."""
    kind = type(result).__name__
    d = result.to_dict()
    if kind == "FunnelResult":
        out = [(label("chart.funnel", lang), funnel_figure(d["steps"], groups=d["breakdown"]))]
        if any(b["count"] for h in d["time_to_convert"] for b in h["bins"]):
            out.append((label("chart.time_to_convert", lang), _time_to_convert(d, lang)))
        return out
    if kind == "FunnelTrendsResult":
        return [(label("chart.trends", lang), _trends(d, lang))]
    if kind == "PathsResult":
        return [(label("chart.sankey", lang), sankey_figure(result.sankey()))]
    if kind == "RetentionResult":
        return [(label("chart.cohorts", lang), _cohorts(d, lang)), (label("chart.lifecycle", lang), _lifecycle(d, lang))]
    raise TypeError(f"no chart for {kind}")


def write_charts(result, path: str | Path, lang: str = "fr", title: str | None = None) -> Path:
    """A self-contained HTML page of the result's figures (Plotly inlined: opens offline)."""
    path = Path(path)
    title = title or label("chart.title", lang)
    body = [f"<h1>{esc(title)}</h1>"]
    for i, (heading, fig) in enumerate(figures(result, lang)):
        body.append(f"<section><h2>{esc(heading)}</h2>{figure_html(fig, f'chart-{i}')}</section>")
    path.write_text(page(title, "".join(body), lang), encoding="utf-8")
    return path
