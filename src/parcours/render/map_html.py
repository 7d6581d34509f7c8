"""The journey map as a page: stage columns in a CSS grid, one row per lane, labels on the left.

The emotion curve and the moves between stages are drawn in SVG strips laid on a CSS
subgrid, so that each point and arc sits exactly over its stage column at any width; the
texts stay in HTML cells so they wrap instead of overflowing. The same JourneyMap gives
the Markdown and JSON exports (:func:`write_map`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .formats import num, pct, signed
from .html import colon, esc, figure_html, page
from .charts import sankey_figure
from .labels import label
from .map_data import BLUEPRINT_LANES, JourneyMap

__all__ = ["map_fragment", "map_page", "map_markdown", "write_map", "map_format", "FORMATS"]

FORMATS = ("html", "md", "json", "png", "svg")


# -- lanes --------------------------------------------------------------------------------
def name(text) -> str:
    """An identifier that may break after its underscores rather than mid-word."""
    return esc(text).replace("_", "_<wbr>")


def _items(items: list[dict], lang: str, value=lambda i, lang: pct(i["share"], lang)) -> str:
    if not items:
        return f'<span class="muted">{label("map.none", lang)}</span>'
    lis = []
    for i in items:
        share = i.get("share")
        width = max(0.0, min(1.0, share or 0.0)) * 100
        bg = f' style="background-image:linear-gradient(90deg,#dceefb {width:.1f}%,transparent {width:.1f}%)"'
        lis.append(f'<li class="bar"{bg}><span class="n">{name(i["name"])}</span>'
                   f'<span class="v">{esc(value(i, lang))}</span></li>')
    return '<ul class="items">' + "".join(lis) + "</ul>"


def _kpis(kpis: list[dict], lang: str) -> str:
    if not kpis:
        return f'<span class="muted">{label("map.none", lang)}</span>'
    lis = []
    for k in kpis:
        cls = {True: "met", False: "missed", None: "unknown"}[k["met"]]
        mark = {True: "✔", False: "✘", None: "?"}[k["met"]]
        title = label(f"map.{'met' if k['met'] else 'missed' if k['met'] is False else 'unknown'}", lang)
        value = _kpi_value(k["value"], k["metric"], lang)
        target = _kpi_value(k["target"], k["metric"], lang)
        lis.append(f'<li class="{cls}" title="{esc(title)}"><span class="n">{esc(k["label"])}</span>'
                   f'<span class="v">{esc(value)} / {esc(target)} {mark}</span></li>')
    return '<ul class="items">' + "".join(lis) + "</ul>"


def _kpi_value(v, metric: str, lang: str) -> str:
    if v is None:
        return "—"
    if metric.endswith("_rate") or metric in ("csat",):
        return pct(v, lang) if abs(v) <= 1 else num(v, lang)
    return num(v, lang, 0 if abs(v) >= 10 else 2)


def _mots(mots: list[dict], lang: str, measured: list[dict] = ()) -> str:
    """Declared moments (went further with vs without), then the data's own (marked ✦)."""
    if not mots and not measured:
        return f'<span class="muted">{label("map.none", lang)}</span>'
    lis = []
    for m in mots:
        lift = m["lift"]
        cls = "unknown" if lift is None else ("met" if lift >= 0 else "missed")
        detail = (f'{label("map.went_on", lang)}{colon(lang)} {pct(m["went_on_with"], lang)} {label("map.with", lang)}, '
                  f'{pct(m["went_on_without"], lang)} {label("map.without", lang)}')
        val = _lift(lift)
        lis.append(f'<li class="{cls}" title="{esc(detail)}"><span class="n">{name(m["name"])}</span>'
                   f'<span class="v">{esc(val)}</span></li>')
    for m in measured:
        detail = label("map.measured_moment", lang, effect=_lift(m["effect"]), low=_lift(m["low"]),
                       high=_lift(m["high"]), n=m["exposed"])
        lis.append(f'<li class="{"met" if m["effect"] >= 0 else "missed"}" title="{esc(detail)}">'
                   f'<span class="n">✦ {name(m["name"])}</span><span class="v">{esc(_lift(m["effect"]))}</span></li>')
    return '<ul class="items">' + "".join(lis) + "</ul>"


def _lift(lift) -> str:
    """A difference of two rates, in percentage points."""
    return "—" if lift is None else f"{lift * 100:+.0f} pts"


def _pains(pains: list[dict], lang: str) -> str:
    if not pains:
        return f'<span class="muted">{label("map.none", lang)}</span>'
    from .map_data import _pain_title

    return '<ul class="items">' + "".join(f'<li class="pain"><span class="n">{esc(_pain_title(p))}</span></li>' for p in pains) + "</ul>"


def _blueprint(values: list[str], lang: str) -> str:
    if not values:
        return f'<span class="muted">{label("map.none", lang)}</span>'
    return '<ul class="items">' + "".join(f'<li class="plain">{esc(v)}</li>' for v in values) + "</ul>"


def _opportunities(o: dict, lang: str) -> str:
    level = "p0" if o["priority"] == 0 else "p1" if o["priority"] < 3 else "p2"
    out = f'<span class="tag {level}">{label("map.priority", lang)} {o["priority"]}</span>'
    if o["reasons"]:
        out += '<div class="why">' + "<br>".join(esc(r) for r in o["reasons"]) + "</div>"
    out += _blueprint(o["actions"], lang)
    return out


def _emotion_strip(stages: list[dict], lang: str) -> str:
    """Measured (solid) and designed (dashed) emotion per stage, in [-1, 1], over the columns."""
    n = len(stages)

    def y(v):
        return 50 - 40 * v

    def line(key, style):
        segs, cur = [], []
        for i, s in enumerate(stages):
            v = s["emotion"][key]
            if v is None:
                if cur:
                    segs.append(cur)
                cur = []
            else:
                cur.append(f"{i + 0.5:.2f},{y(v):.1f}")
        if cur:
            segs.append(cur)
        paths = "".join(f'<polyline points="{" ".join(sg)}" fill="none" {style} '
                        f'vector-effect="non-scaling-stroke"/>' for sg in segs)
        return paths

    svg = (f'<svg viewBox="0 0 {n} 100" preserveAspectRatio="none" height="70" class="emotion-curve" style="grid-row:1" '
           f'aria-label="{esc(label("lane.emotion", lang))}">'
           f'<line x1="0" y1="50" x2="{n}" y2="50" stroke="#cbd2d9" stroke-width="1" vector-effect="non-scaling-stroke"/>'
           + line("designed", 'stroke="#9aa5b1" stroke-width="2" stroke-dasharray="5 4"')
           + line("measured", 'stroke="#2680c2" stroke-width="3"') + "</svg>")
    # the dots are HTML, since a stretched SVG would stretch them into ellipses
    for i, s in enumerate(stages):
        dots = "".join(f'<span class="{cls}" style="top:calc({y(s["emotion"][key]):.1f}% - 5px)"></span>'
                       for key, cls in (("designed", "dot designed"), ("measured", "dot"))
                       if s["emotion"][key] is not None)
        svg += f'<div class="dots" style="grid-column:{i + 1}">{dots}</div>'
    cols = []
    for s in stages:
        e = s["emotion"]
        answers = (label("map.answers", lang, n=num(e["answers"], lang)) if e["answers"]
                   else label("map.no_answers", lang))
        cols.append(
            f'<div class="col"><div><b>{esc(signed(e["measured"], lang))}</b> {label("map.measured", lang)} '
            f'<span class="muted">({esc(answers)})</span></div>'
            f'<div class="muted">{esc(signed(e["designed"], lang))} {label("map.designed", lang)}'
            f'{" · " + esc(e["designed_label"]) if e["designed_label"] else ""}</div></div>')
    return svg + "".join(cols)


def _moves_strip(stages: list[dict], customers: int, lang: str) -> str:
    """Forward conversion arrows between neighbours; backward moves (red) and skips (orange)
    as arcs under them, their thickness growing with the share of people."""
    n = len(stages)
    index = {s["stage"]: i for i, s in enumerate(stages)}
    parts = []

    def width(people):
        share = people / customers if customers else 0
        return 1.5 + 10 * min(share, 1.0)

    for i, s in enumerate(stages):
        mv = s["moves"]
        if mv["next"] is not None and mv["conversion"] is not None:
            w = 1.5 + 8 * mv["conversion"]
            parts.append(f'<path d="M{i * 100 + 62} 18 L{(i + 1) * 100 + 38} 18" stroke="#2f8132" '
                         f'stroke-width="{w:.1f}" fill="none" vector-effect="non-scaling-stroke" class="fwd"/>')
            parts.append(f'<path d="M{(i + 1) * 100 + 38} 18 h0.0001" stroke="#2f8132" stroke-width="{w + 6:.1f}" '
                         f'stroke-linecap="round" vector-effect="non-scaling-stroke"/>')
        for kind, color, moves in (("back", "#c62828", mv["backward"]), ("skip", "#d9822b", mv["skips"])):
            for m in moves:
                j = index.get(m["to"])
                if j is None:
                    continue
                x1, x2 = i * 100 + 50, j * 100 + 50
                depth = 34 + 14 * min(abs(i - j), 4)
                parts.append(f'<path d="M{x1} 30 C{x1} {depth + 30},{x2} {depth + 30},{x2} 30" stroke="{color}" '
                             f'stroke-width="{width(m["customers"]):.1f}" stroke-opacity=".7" fill="none" '
                             f'vector-effect="non-scaling-stroke" class="{kind}"/>')
    svg = (f'<svg viewBox="0 0 {n * 100} 100" preserveAspectRatio="none" height="64" class="moves" '
           f'aria-label="{esc(label("lane.moves", lang))}">' + "".join(parts) + "</svg>")
    cols = []
    for s in stages:
        mv = s["moves"]
        lines = []
        if mv["conversion"] is not None:
            lines.append(f'<div style="color:#2f8132">→ {pct(mv["conversion"], lang)} {label("map.next", lang)}</div>')
        for b in mv["backward"]:
            lines.append(f'<div style="color:#c62828">↩ {esc(label("map.back_to", lang, stage=b["to_label"]))}{colon(lang)} '
                         f'{pct(b["customers"] / customers if customers else None, lang)}</div>')
        for k in mv["skips"]:
            lines.append(f'<div style="color:#d9822b">↷ {esc(label("map.skip_to", lang, stage=k["to_label"]))}{colon(lang)} '
                         f'{pct(k["customers"] / customers if customers else None, lang)}</div>')
        if mv["loop_customers"]:
            lines.append(f'<div class="muted">↻ {pct(mv["loop_customers"] / customers if customers else None, lang)} '
                         f'{label("map.loops", lang)}</div>')
        cols.append(f'<div class="col">{"".join(lines)}</div>')
    return svg + "".join(cols)


# -- the map ------------------------------------------------------------------------------
def _grid(jm: JourneyMap) -> str:
    lang, stages = jm.lang, jm.stages
    cells = ['<div class="jm-corner"></div>']
    for s in stages:
        obj = f'<div class="obj">{esc(s["objective"])}</div>' if s["objective"] else ""
        cells.append(f'<div class="jm-head" data-stage="{esc(s["stage"])}"><div class="name">{esc(s["label"])}</div>'
                     f'{obj}<div class="reach">{esc(label("map.reach", lang, n=num(s["reach"], lang)))}</div></div>')

    def row(lane: str, render, cls: str = "") -> None:
        cells.append(f'<div class="jm-lane" data-lane="{lane}">{esc(label("lane." + lane, lang))}</div>')
        for s in stages:
            cells.append(f'<div class="jm-cell {cls}" data-lane="{lane}">{render(s)}</div>')

    def span(lane: str, inner: str) -> None:
        cells.append(f'<div class="jm-lane" data-lane="{lane}">{esc(label("lane." + lane, lang))}</div>')
        cells.append(f'<div class="jm-span" data-lane="{lane}">{inner}</div>')

    row("actions", lambda s: _items(s["actions"], lang))
    row("touchpoints", lambda s: _items(s["touchpoints"], lang))
    row("channels", lambda s: _items(s["channels"], lang))
    span("emotion", _emotion_strip(stages, lang))
    row("pain_points", lambda s: _pains(s["pain_points"], lang))
    row("moments_of_truth", lambda s: _mots(s["moments_of_truth"], lang, s.get("moments_measured", [])))
    row("kpis", lambda s: _kpis(s["kpis"], lang))
    span("moves", _moves_strip(stages, jm.customers, lang))
    for lane in BLUEPRINT_LANES:
        row(lane, lambda s, lane=lane: _blueprint(s[lane], lang), "blueprint")
    row("opportunities", lambda s: _opportunities(s["opportunities"], lang))
    return f'<div class="jm-grid" style="--n:{len(stages)}">' + "".join(cells) + "</div>"


def _designed_vs_lived(jm: JourneyMap, div_id: str) -> str:
    lang, d = jm.lang, jm.designed_vs_lived
    out = [f'<h2>{esc(label("map.dvl.title", lang))}</h2>']
    out.append('<p class="dvl-share"><b>' + esc(label(
        "map.dvl.share", lang, share=pct(d["share"], lang), n=num(d["following"], lang),
        total=num(d["customers"], lang))) + "</b></p>")
    if d["deviations"]:
        from .html import table

        out.append(f"<h3>{esc(label('map.dvl.deviations', lang))}</h3>")
        out.append(table([label("map.dvl.move", lang), label("map.dvl.people", lang), label("map.dvl.share_col", lang)],
                         [[x["label"], num(x["customers"], lang), pct(x["share"], lang)] for x in d["deviations"]],
                         right={1, 2}))
    sk = d["sankey"]
    if sk["link"]["value"]:
        out.append(f"<h3>{esc(label('map.dvl.flows', lang))}</h3>")
        out.append(figure_html(sankey_figure(sk, height=380), div_id))
    return "".join(out)


def _empathy(jm: JourneyMap) -> str:
    lang = jm.lang
    if not jm.empathy:
        return ""
    cards = []
    for e in jm.empathy:
        says = "".join(f"<blockquote>{esc(s['text'])}</blockquote>" for s in e["says"]) or \
            f'<span class="muted">{label("empathy.no_text", lang)}</span>'
        does = _items(e["does"], lang)
        th = e["thinks"]
        thinks = (esc(label("empathy.nps", lang, v=num(th["nps"], lang)))
                  + f' <span class="muted">({esc(label("map.answers", lang, n=num(th["nps_answers"], lang)))})</span>')
        if th["themes"]:
            thinks += '<ul class="items">' + "".join(
                f'<li><span class="n">{esc(t["label"])}</span><span class="v">{pct(t["share"], lang)} · '
                f'{esc(signed(t["sentiment"], lang))}</span></li>' for t in th["themes"]) + "</ul>"
        fe = e["feels"]
        feels = (esc(label("empathy.emotion", lang, v=signed(fe["emotion"], lang)))
                 + f' <span class="muted">({esc(label("map.answers", lang, n=num(fe["answers"], lang)))})</span>')
        desc = f'<p class="sub">{esc(e["description"])}</p>' if e["description"] else ""
        cards.append(
            f'<div class="card" data-empathy="{esc(e["id"])}"><h3>{esc(e["label"])} '
            f'<span class="muted">· {esc(label("empathy.people", lang, n=num(e["people"], lang)))}</span></h3>{desc}'
            f'<div class="quad"><div><h4>{label("empathy.says", lang)}</h4>{says}</div>'
            f'<div><h4>{label("empathy.does", lang)}</h4>{does}</div>'
            f'<div><h4>{label("empathy.thinks", lang)}</h4>{thinks}</div>'
            f'<div><h4>{label("empathy.feels", lang)}</h4>{feels}</div></div></div>')
    return f'<h2>{esc(label("map.empathy", lang))}</h2><div class="cards">' + "".join(cards) + "</div>"


def map_fragment(jm: JourneyMap, prefix: str = "map", heading: str = "") -> str:
    """The map's sections (grid, designed vs lived, empathy maps, notes), without the page;
    ``heading`` (HTML) opens the first one."""
    lang = jm.lang
    notes = ""
    if jm.notes:
        notes = (f'<h3>{label("map.notes", lang)}</h3>'
                 + "".join(f'<p class="note">{esc(n)}</p>' for n in jm.notes))
    return (f'<section class="journey-map" id="{prefix}-grid">{heading}{_grid(jm)}</section>'
            f'<section id="{prefix}-dvl">{_designed_vs_lived(jm, prefix + "-sankey")}</section>'
            f'<section id="{prefix}-empathy">{_empathy(jm)}{notes}</section>')


def map_page(jm: JourneyMap) -> str:
    lang = jm.lang
    head = (f'<h1>{esc(label("map.title", lang))} — {esc(jm.title)}</h1>'
            f'<p class="sub">{esc(label("map.reach", lang, n=num(jm.customers, lang)))}</p>')
    return page(f'{label("map.title", lang)} — {jm.title}', head + map_fragment(jm), lang)


# -- Markdown -----------------------------------------------------------------------------
def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def map_markdown(jm: JourneyMap) -> str:
    """The map as Markdown: one table with the stages as columns and the lanes as rows."""
    lang = jm.lang
    stages = jm.stages

    def cell(items):
        return "<br>".join(_md(x) for x in items) or "—"

    rows = {
        "actions": [[f'{a["name"]} ({pct(a["share"], lang)})' for a in s["actions"]] for s in stages],
        "touchpoints": [[f'{a["name"]} ({pct(a["share"], lang)})' for a in s["touchpoints"]] for s in stages],
        "channels": [[f'{a["name"]} ({pct(a["share"], lang)})' for a in s["channels"]] for s in stages],
        "emotion": [[f'{label("map.measured", lang)} {signed(s["emotion"]["measured"], lang)}',
                     f'{label("map.designed", lang)} {signed(s["emotion"]["designed"], lang)}'] for s in stages],
        "pain_points": [[p.get("title") or p.get("label") or p.get("kind") or "?" for p in s["pain_points"]]
                        for s in stages],
        "moments_of_truth": [[f'{m["name"]} ({_lift(m["lift"])})' for m in s["moments_of_truth"]]
                             + [f'✦ {m["name"]} ({_lift(m["effect"])})' for m in s.get("moments_measured", [])]
                             for s in stages],
        "kpis": [[f'{k["label"]}: {_kpi_value(k["value"], k["metric"], lang)} / '
                  f'{_kpi_value(k["target"], k["metric"], lang)} {({True: "✔", False: "✘", None: "?"})[k["met"]]}'
                  for k in s["kpis"]] for s in stages],
        "moves": [([f'→ {pct(s["moves"]["conversion"], lang)}'] if s["moves"]["conversion"] is not None else [])
                  + [f'↩ {b["to_label"]}: {num(b["customers"], lang)}' for b in s["moves"]["backward"]]
                  + [f'↷ {k["to_label"]}: {num(k["customers"], lang)}' for k in s["moves"]["skips"]]
                  for s in stages],
        **{lane: [s[lane] for s in stages] for lane in BLUEPRINT_LANES},
        "opportunities": [s["opportunities"]["reasons"] + s["opportunities"]["actions"] for s in stages],
    }
    out = [f'# {label("map.title", lang)} — {jm.title}', "",
           label("map.reach", lang, n=num(jm.customers, lang)), "",
           "| " + " | ".join([""] + [_md(s["label"]) for s in stages]) + " |",
           "|" + "---|" * (len(stages) + 1)]
    for lane, cells in rows.items():
        out.append("| " + " | ".join([f'**{label("lane." + lane, lang)}**'] + [cell(c) for c in cells]) + " |")
    d = jm.designed_vs_lived
    out += ["", f'## {label("map.dvl.title", lang)}', "",
            label("map.dvl.share", lang, share=pct(d["share"], lang), n=num(d["following"], lang),
                  total=num(d["customers"], lang)), ""]
    if d["deviations"]:
        out += [f'| {label("map.dvl.move", lang)} | {label("map.dvl.people", lang)} | {label("map.dvl.share_col", lang)} |',
                "|---|---:|---:|"]
        out += [f'| {_md(x["label"])} | {num(x["customers"], lang)} | {pct(x["share"], lang)} |' for x in d["deviations"]]
    if jm.empathy:
        out += ["", f'## {label("map.empathy", lang)}']
        for e in jm.empathy:
            out += ["", f'### {e["label"]} ({label("empathy.people", lang, n=num(e["people"], lang))})', ""]
            out += [f'- **{label("empathy.says", lang)}**: ' + (" / ".join(f'« {_md(s["text"])} »' for s in e["says"]) or "—"),
                    f'- **{label("empathy.does", lang)}**: ' + ", ".join(f'{x["name"]} ({pct(x["share"], lang)})' for x in e["does"]),
                    f'- **{label("empathy.thinks", lang)}**: ' + label("empathy.nps", lang, v=num(e["thinks"]["nps"], lang)),
                    f'- **{label("empathy.feels", lang)}**: ' + label("empathy.emotion", lang, v=signed(e["feels"]["emotion"], lang))]
    if jm.notes:
        out += ["", f'## {label("map.notes", lang)}', ""] + [f"- {n}" for n in jm.notes]
    return "\n".join(out) + "\n"


# -- files --------------------------------------------------------------------------------
def map_format(out: str | Path) -> str:
    """The format chosen by the file's extension; checked before the map is computed."""
    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"cannot write {out}: the extension must be one of "
                          f"{', '.join('.' + f for f in FORMATS)}")
    return fmt


def write_map(jm: JourneyMap, out: str | Path) -> Path:
    """Write the map to ``out``; its extension chooses the format (html, md, json, png, svg)."""
    out = Path(out)
    fmt = map_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(jm.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    elif fmt == "md":
        out.write_text(map_markdown(jm), encoding="utf-8")
    elif fmt == "html":
        out.write_text(map_page(jm), encoding="utf-8")
    else:
        from .screenshot import html_to_image

        html_to_image(map_page(jm), out)
    return out
