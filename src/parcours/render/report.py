"""The manager's report: one self-contained page on the journey's health.

Each section is computed by the analysis that owns it (stage KPIs, funnel, paths, pain
points, feedback, attribution, CAC, CLV) and kept as plain data in :class:`Report`, whose
``to_dict()`` is the JSON form; the HTML is rendered from that data. A section whose
analysis fails or has no data shows a short note instead of breaking the page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .formats import cell, interval, num, pct
from .html import colon, esc, figure_html, note, page, table
from .charts import funnel_figure, sankey_figure
from .labels import label
from .map_data import JourneyMap, feedback_kpis, journey_map, pain_points, shared_frame
from .map_html import map_fragment

__all__ = ["Report", "build_report", "report_html", "write_report", "report_format", "SECTIONS"]

SECTIONS = ("summary", "map", "funnel", "paths", "kpis", "pain_points", "feedback", "attribution", "cac", "clv")
#: how deep and how wide the event-paths Sankey goes.
PATH_DEPTH = 5
PATH_MIN_SHARE = 0.02
#: CLV horizon: a year, in weeks.
CLV_HORIZON_WEEKS = 52


@dataclass
class Report:
    title: str
    lang: str
    #: section key -> its data, or {"error": why} when it could not be computed.
    sections: dict = field(default_factory=dict)
    #: section key -> seconds spent computing it (shown in the bench, not in the page).
    seconds: dict = field(default_factory=dict)
    journey_map: JourneyMap | None = None

    def to_dict(self) -> dict:
        out = {"title": self.title, "lang": self.lang, "sections": dict(self.sections)}
        if self.journey_map is not None:
            out["sections"]["map"] = self.journey_map.to_dict()
        return out

    def to_frame(self):
        """One row per section: whether it was computed, and how long it took."""
        import pandas as pd

        return pd.DataFrame([{"section": k, "ok": "error" not in (v or {}), "seconds": self.seconds.get(k)}
                             for k, v in self.sections.items()], columns=["section", "ok", "seconds"])


# -- data ---------------------------------------------------------------------------------
def _stage_funnel(store, model, lang):
    from ..analysis.funnel import funnel

    res = funnel(store, model.path_order, window=model.window, stages=True)
    steps = res.to_dict()["steps"]
    for s in steps:
        s["label"] = model.label(s["name"], lang)
    return {"window_seconds": res.window_seconds, "steps": steps}


def _paths(store):
    from ..analysis.paths import paths

    res = paths(store, by="event", depth=PATH_DEPTH, min_share=PATH_MIN_SHARE, top=10)
    return {"customers": res.customers, "sankey": res.sankey(), "variants": res.to_dict()["variants"]}


def _feedback(store):
    from ..analysis.feedback import feedback

    res = feedback(store, period="month")
    o = res.overall
    return {"nps": {k: o["nps"][k] for k in ("score", "ci_low", "ci_high", "n")},
            "csat": {k: o["csat"][k] for k in ("score", "n")}, "ces": {k: o["ces"][k] for k in ("mean", "n")},
            "counts": o["counts"],
            "trend": [{"period": t["period"], "nps": t["nps"]["score"], "nps_n": t["nps"]["n"],
                       "csat": t["csat"]["score"], "csat_n": t["csat"]["n"]} for t in res.trend]}


def _attribution(store):
    from ..analysis.attribution import attribution

    return attribution(store, model="markov").to_dict()


def _cac(store):
    from ..analysis.cac import cac

    res = cac(store, by="channel", period="month")
    per: dict = {}
    for r in res.rows:
        spend, new = per.get(r["channel"], (0.0, 0))
        per[r["channel"]] = (spend + r["spend"], new + r["new_customers"])
    channels = [{"channel": c, "spend": s, "new_customers": n, "cac": s / n if n else None}
                for c, (s, n) in sorted(per.items(), key=lambda x: -x[1][0])]
    return {"total": res.total, "channels": channels}


def _clv(store):
    import statistics

    from ..analysis.clv import clv

    res = clv(store, unit="week", horizon=CLV_HORIZON_WEEKS)
    hist = [c["historical_clv"] for c in res.customers if c["historical_clv"] is not None]
    pred = [c["predicted_clv"] for c in res.customers if c["predicted_clv"] is not None]
    return {"customers": len(res.customers), "horizon_weeks": CLV_HORIZON_WEEKS,
            "historical_mean": statistics.fmean(hist) if hist else None,
            "historical_median": statistics.median(hist) if hist else None,
            "historical_total": sum(hist) if hist else None,
            "predicted_mean": statistics.fmean(pred) if pred else None,
            "predicted_total": sum(pred) if pred else None,
            "params": res.params, "notes": res.notes}


def _summary(report: Report, jm: JourneyMap | None) -> dict:
    s = report.sections
    funnel_steps = (s.get("funnel") or {}).get("steps") or []
    out = {"people": jm.customers if jm else None,
           "designed_share": jm.designed_vs_lived["share"] if jm else None,
           "conversion": funnel_steps[-1]["conversion_from_first"] if funnel_steps else None,
           "conversion_to": funnel_steps[-1]["label"] if funnel_steps else None}
    kpis = [k for st in (s.get("kpis") or {}).get("stages", []) for k in st["kpis"]]
    out["kpis_met"] = sum(k["met"] is True for k in kpis)
    out["kpis_measured"] = sum(k["met"] is not None for k in kpis)
    fb = s.get("feedback") or {}
    out["nps"] = (fb.get("nps") or {}).get("score")
    out["csat"] = (fb.get("csat") or {}).get("score")
    pains = (s.get("pain_points") or {}).get("items") or []
    out["top_pain_points"] = [p["title"] for p in pains[:3]]
    return out


def build_report(store, model, lang: str = "fr", scope: str | None = None) -> Report:
    """Every section's data; a failing section keeps its error instead of its data.

    To report on a saved segment, call this inside ``segment_scope`` and name it in ``scope``."""
    from ..analysis.kpis import stage_kpis

    title = label("report.title", lang) + " — " + (model.labels.get(lang) if model.labels else model.name)
    report = Report(title + (f" · {scope}" if scope else ""), lang)

    def run(key, fn):
        t0 = time.perf_counter()
        try:
            report.sections[key] = fn()
        except Exception as exc:  # noqa: BLE001 - one section must not break the page
            report.sections[key] = {"error": f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)}
        report.seconds[key] = time.perf_counter() - t0
        return report.sections[key]

    kpis_holder = {}

    def kpis():
        res = stage_kpis(store, model, lang=lang)
        feedback_kpis(store, res)
        kpis_holder["res"] = res
        return res.to_dict()

    frame = {}  # the journeys read once for the pain points and the map's moments of truth

    def pains():
        frame["jf"] = shared_frame(store)
        items, why = pain_points(store, lang, frame["jf"])
        for p in items:
            p["stage_label"] = model.label(p["stage"], lang) if p.get("stage") in model.stage_ids else p.get("stage")
        return {"items": items, "note": why}

    run("kpis", kpis)
    run("pain_points", pains)
    run("funnel", lambda: _stage_funnel(store, model, lang))
    run("paths", lambda: _paths(store))
    run("feedback", lambda: _feedback(store))
    run("attribution", lambda: _attribution(store))
    run("cac", lambda: _cac(store))
    run("clv", lambda: _clv(store))
    pp = report.sections["pain_points"]
    t0 = time.perf_counter()
    try:
        report.journey_map = journey_map(store, model, lang=lang, scope=scope, kpis=kpis_holder.get("res"),
                                         pains=None if "error" in pp else (pp["items"], pp["note"]),
                                         frame=frame.get("jf"))
        report.sections["map"] = {}
    except Exception as exc:  # noqa: BLE001
        report.sections["map"] = {"error": str(exc)}
    report.seconds["map"] = time.perf_counter() - t0
    report.sections = {"summary": _summary(report, report.journey_map),
                       **{k: report.sections[k] for k in SECTIONS if k in report.sections}}
    return report


# -- HTML ---------------------------------------------------------------------------------
def _summary_html(d: dict, lang: str) -> str:
    tiles = [
        (label("report.people", lang), num(d["people"], lang)),
        (label("report.conversion", lang) + (f" ({d['conversion_to']})" if d.get("conversion_to") else ""),
         pct(d["conversion"], lang)),
        (label("report.designed_share", lang), pct(d["designed_share"], lang)),
        (label("report.kpis_met", lang), f'{d["kpis_met"]} / {d["kpis_measured"]}'),
        (label("report.nps", lang), num(d["nps"], lang, 1)),
        (label("report.csat", lang), "—" if d["csat"] is None else pct(d["csat"] / 100, lang)),
    ]
    out = '<div class="kpis">' + "".join(
        f'<div class="kpi"><div class="big">{esc(v)}</div><div class="lbl">{esc(k)}</div></div>' for k, v in tiles) + "</div>"
    if d["top_pain_points"]:
        out += (f'<h3 style="margin-top:12px">{esc(label("report.top_pains", lang))}</h3><ol>'
                + "".join(f"<li>{esc(p)}</li>" for p in d["top_pain_points"]) + "</ol>")
    return out


def _funnel_html(d: dict, lang: str) -> str:
    steps = d["steps"]
    if not steps or not steps[0]["count"]:
        return note(label("report.no_data", lang))
    fig = funnel_figure(steps, names=[s["label"] for s in steps])
    fig.update_layout(height=320)
    return figure_html(fig, "report-funnel")


def _paths_html(d: dict, lang: str) -> str:
    if not d["sankey"]["link"]["value"]:
        return note(label("report.no_data", lang))
    return figure_html(sankey_figure(d["sankey"], height=420), "report-paths")


KPI_ROWS = ("reach", "conversion", "abandonment", "median_seconds", "pages_per_person", "click_through",
            "repurchase_rate", "referral_rate", "backward_rate")


def _kpis_html(d: dict, lang: str) -> str:
    stages = d["stages"]
    if not stages:
        return note(label("report.no_data", lang))

    def fmt(key, v):
        return cell(key, v, lang) or "—"

    rows = [[label("measure." + key, lang)] + [fmt(key, s.get(key)) for s in stages] for key in KPI_ROWS]
    out = table([label("report.measure", lang)] + [s["label"] for s in stages], rows,
                right=set(range(1, len(stages) + 1)))
    targets = [[s["label"], k["label"], fmt(k["metric"], k["value"]), fmt(k["metric"], k["target"]),
                {True: "✔ " + label("map.met", lang), False: "✘ " + label("map.missed", lang),
                 None: label("map.unknown", lang)}[k["met"]]]
               for s in stages for k in s["kpis"]]
    if targets:
        from ..i18n import t

        out += "<h3 style='margin-top:12px'>" + esc(label("lane.kpis", lang)) + "</h3>" + table(
            [t("col.stage", lang), t("col.kpi", lang), t("col.value", lang), t("col.target", lang), t("col.met", lang)],
            targets, right={2, 3})
    return out


def _pains_html(d: dict, lang: str) -> str:
    items = d["items"]
    if not items:
        return note(d.get("note") or label("report.no_data", lang))
    rows = []
    for p in items:
        ev = p.get("evidence") or {}
        imp = p.get("impact") or {}
        evidence = ", ".join(f"{k}: {_short(v, lang)}" for k, v in ev.items()
                             if k in ("metric", "value", "baseline", "affected_customers", "p_value"))
        quote = (" « " + p["verbatims"][0] + " »") if p.get("verbatims") else ""
        rows.append([p["rank"], p["title"], p.get("stage_label") or "—", evidence + quote,
                     _short(imp.get("lost_conversions_per_month"), lang),
                     _short(imp.get("lost_revenue_per_month"), lang)])
    return table(["#", label("lane.pain_points", lang), label("map.stage", lang), label("report.evidence", lang),
                  label("report.lost_conversions", lang), label("report.lost_revenue", lang)], rows, right={0, 4, 5})


def _short(v, lang):
    if v is None:
        return "—"
    if isinstance(v, float):
        return num(v, lang, 3) if abs(v) < 1 else num(v, lang, 1 if abs(v) < 100 else 0)
    return str(v)


def _feedback_html(d: dict, lang: str) -> str:
    import plotly.graph_objects as go

    nps, csat = d["nps"], d["csat"]
    head = (f'<p>NPS <b>{num(nps["score"], lang, 1)}</b> {interval(nps["ci_low"], nps["ci_high"], lang)}'
            f' ({label("map.answers", lang, n=num(nps["n"], lang))}) · CSAT <b>'
            f'{"—" if csat["score"] is None else pct(csat["score"] / 100, lang)}</b> '
            f'({label("map.answers", lang, n=num(csat["n"], lang))})</p>')
    trend = [t for t in d["trend"] if t["nps"] is not None or t["csat"] is not None]
    if not trend:
        return head + note(label("report.no_data", lang))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[t["period"] for t in trend], y=[t["nps"] for t in trend], name="NPS", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=[t["period"] for t in trend], y=[t["csat"] for t in trend], name="CSAT (%)",
                             mode="lines+markers"))
    fig.update_layout(height=300, legend=dict(orientation="h", y=1.15))
    return head + figure_html(fig, "report-feedback")


def _attribution_html(d: dict, lang: str) -> str:
    rows = [[c["channel"], num(c["conversions"], lang, 1), num(c["value"], lang),
             "—" if c.get("removal_effect") is None else pct(c["removal_effect"], lang)] for c in d["channels"]]
    if not rows:
        return note(label("report.no_data", lang))
    return (f'<p>{label("report.conversions", lang)}{colon(lang)} {num(d["conversions"], lang)} · '
            f'{label("report.value", lang)}{colon(lang)} {num(d["value"], lang)} ({esc(d["model"])})</p>'
            + table([label("report.channel", lang), label("report.conversions", lang), label("report.value", lang),
                     label("report.removal_effect", lang)], rows, right={1, 2, 3}))


def _cac_html(d: dict, lang: str) -> str:
    tot = d["total"]
    if not d["channels"]:
        return note(label("report.no_data", lang))
    rows = [[c["channel"], num(c["spend"], lang), num(c["new_customers"], lang), num(c["cac"], lang, 2)]
            for c in d["channels"]]
    rows.append([label("report.total", lang), num(tot["spend"], lang), num(tot["new_customers"], lang), num(tot["cac"], lang, 2)])
    return table([label("report.channel", lang), label("report.spend", lang), label("report.new_customers", lang),
                  "CAC"], rows, right={1, 2, 3})


def _clv_html(d: dict, lang: str) -> str:
    if not d["customers"]:
        return note(label("report.no_data", lang))
    rows = [[label("report.customers", lang), num(d["customers"], lang)],
            [label("report.mean_hist", lang), num(d["historical_mean"], lang, 2)],
            [label("report.total_hist", lang), num(d["historical_total"], lang)],
            [f'{label("report.mean_pred", lang)} ({label("report.horizon", lang, n=d["horizon_weeks"])})',
             num(d["predicted_mean"], lang, 2)]]
    out = table([label("report.measure", lang), label("report.value", lang)], rows, right={1})
    return out + "".join(note(n) for n in d["notes"])


RENDER = {"summary": _summary_html, "funnel": _funnel_html, "paths": _paths_html, "kpis": _kpis_html,
          "pain_points": _pains_html, "feedback": _feedback_html, "attribution": _attribution_html,
          "cac": _cac_html, "clv": _clv_html}


def report_html(report: Report, source: str = "") -> str:
    lang = report.lang
    toc = " ".join(f'<a href="#sec-{k}{"-grid" if k == "map" else ""}">{esc(label("report." + k, lang))}</a>'
                   for k in report.sections)
    parts = [f"<h1>{esc(report.title)}</h1>"]
    if source:
        parts.append(f'<p class="sub">{esc(label("report.generated", lang, dir=source))}</p>')
    parts.append(f'<nav class="toc">{toc}</nav>')
    for key, data in report.sections.items():
        title = f'<h2 style="margin-top:0">{esc(label("report." + key, lang))}</h2>'
        if key == "map":
            if report.journey_map is None:
                body = f"<section id='sec-map-grid'>{title}{note(label('report.unavailable', lang, error=data.get('error')))}</section>"
            else:
                body = map_fragment(report.journey_map, "sec-map", heading=title)
            parts.append(body)
            continue
        if "error" in (data or {}):
            inner = note(label("report.unavailable", lang, error=data["error"]))
        else:
            try:
                inner = RENDER[key](data, lang)
            except Exception as exc:  # noqa: BLE001 - a rendering bug must not lose the other sections
                inner = note(label("report.unavailable", lang, error=exc))
        parts.append(f'<section id="sec-{key}">{title}{inner}</section>')
    return page(report.title, "".join(parts), lang)


def report_format(out: str | Path) -> str:
    """``.html`` or ``.json``, from the file's extension; checked before the report is built."""
    fmt = Path(out).suffix.lower()
    if fmt not in (".html", ".json"):
        raise ConfigError(f"cannot write {out}: the report is written as .html (or its data as .json)")
    return fmt


def write_report(report: Report, out: str | Path, source: str = "") -> Path:
    """Write the report as HTML (or its data as .json)."""
    import json

    out = Path(out)
    fmt = report_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".json":
        out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    else:
        out.write_text(report_html(report, source), encoding="utf-8")
    return out
