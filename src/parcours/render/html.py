"""The page shell shared by the map and the report: inline CSS, Plotly's JS inlined, numbers.

Self-contained on purpose: the page is mailed, archived and opened offline, so nothing is
fetched from a CDN. Plotly's bundle comes from the installed ``plotly`` package.
"""

from __future__ import annotations

from html import escape
from functools import lru_cache

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;background:#f5f7fa}
main{max-width:1600px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px}
p.sub{margin:0 0 12px;color:#52606d}
section{background:#fff;border-radius:8px;padding:12px 14px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow:hidden}
.jm-grid{display:grid;grid-template-columns:136px repeat(var(--n),minmax(0,1fr));gap:4px;width:100%}
.jm-grid>div{min-width:0;overflow-wrap:anywhere;word-break:normal}
.jm-head{background:#243b53;color:#fff;border-radius:6px;padding:8px}
.jm-head .name{font-weight:600;font-size:15px}
.jm-head .obj,.jm-head .reach{font-size:12px;opacity:.85}
.jm-corner{background:transparent}
.jm-lane{background:#e4e7eb;border-radius:6px;padding:6px 8px;font-weight:600;font-size:12px;color:#334e68}
.jm-cell{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:6px;font-size:12px}
ul.items{list-style:none;margin:0;padding:0}
ul.items li{display:flex;gap:6px;justify-content:space-between;align-items:baseline;padding:1px 3px;margin:0 0 2px;border-radius:3px}
ul.items li .n{flex:1 1 auto;min-width:0}
ul.items li .v{flex:0 0 auto;color:#52606d;font-variant-numeric:tabular-nums}
ul.items li.bar{background-repeat:no-repeat}
ul.items li.met .v{color:#2f8132}ul.items li.missed .v{color:#c62828}ul.items li.unknown .v{color:#9aa5b1}
.jm-cell.blueprint{background:#f8fafc;color:#3e4c59}
ul.items li.plain{display:block}
.jm-span{grid-column:2 / -1;display:grid;grid-template-columns:subgrid;row-gap:2px;background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:4px 0}
.jm-span svg{grid-column:1 / -1;width:100%;display:block}
.jm-span .dots{grid-row:1;position:relative;height:70px}
.jm-span .dot{position:absolute;left:calc(50% - 5px);width:10px;height:10px;border-radius:50%;background:#2680c2}
.jm-span .dot.designed{background:#fff;border:2px solid #9aa5b1}
.jm-head .name{hyphens:auto}
.jm-span .col{padding:0 6px;font-size:12px;min-width:0;overflow-wrap:anywhere}
.muted{color:#9aa5b1}
.tag{display:inline-block;border-radius:10px;padding:0 6px;font-size:11px;font-weight:600;background:#e4e7eb}
.tag.p0{background:#e3f9e5;color:#2f8132}.tag.p1{background:#fff3c4;color:#8d6708}.tag.p2{background:#ffe3e3;color:#c62828}
.why{font-size:11px;color:#c62828;margin:2px 0 4px}
.pain{color:#c62828}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:10px;min-width:0}
.quad{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin-top:6px}
.quad>div{background:#f8fafc;border-radius:6px;padding:6px;min-width:0;overflow-wrap:anywhere;font-size:12px}
.quad h4{margin:0 0 4px;font-size:12px;color:#334e68}
blockquote{margin:0 0 4px;padding-left:6px;border-left:3px solid #bcccdc;font-style:italic}
table.t{border-collapse:collapse;width:100%;font-size:13px;table-layout:auto}
table.t th,table.t td{border-bottom:1px solid #e4e7eb;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
table.t td.r,table.t th.r{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.kpi{background:#f0f4f8;border-radius:8px;padding:10px;min-width:0}
.kpi .big{font-size:22px;font-weight:700}
.kpi .lbl{font-size:12px;color:#52606d}
.note{color:#8d6708;background:#fffbea;border-radius:6px;padding:6px 8px;font-size:13px}
.chart{width:100%;min-width:0}
nav.toc{font-size:13px;margin:0 0 12px}
nav.toc a{margin-right:10px}
"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """Plotly's bundle from the installed package (about 4.5 MB), read once."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def page(title: str, body: str, lang: str, *, charts: bool = True) -> str:
    """A complete self-contained HTML page."""
    js = f"<script>{plotly_js()}</script>" if charts else ""
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style>{js}</head>"
            f"<body><main>{body}</main></body></html>\n")


def figure_html(fig, div_id: str) -> str:
    """A Plotly figure as a div and its script, Plotly's JS being already in the page."""
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), font=dict(size=12),
                      paper_bgcolor="white", plot_bgcolor="white")
    return ('<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                                 config={"responsive": True, "displayModeBar": False})
            + "</div>")


def esc(v) -> str:
    return escape("" if v is None else str(v))


def colon(lang: str) -> str:
    """French typography puts a (narrow) space before a colon; English does not."""
    return "\u202f:" if lang == "fr" else ":"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A plain HTML table; cells are escaped, columns in ``right`` are right-aligned numbers."""
    head = "".join(f'<th class="{"r" if i in right else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"r" if i in right else ""}">{esc(c)}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table class="t"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
