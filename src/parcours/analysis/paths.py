"""Paths: what customers do next, the most common journeys, loops and moves back a stage.

Every customer's journey is their time-ordered items (event names, stages, touchpoints or
channels), ordered by (timestamp, seq). The work is Ibis window functions over the journey
view (``lag``/``lead`` for pairs, ``row_number`` for positions), so it runs where the data is;
only the small aggregated tables come back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import pandas as pd

from ..errors import AnalysisError
from ._common import Charted, choice, journey, json_ready, per_column
from .journey_codes import use_codes

ITEMS = ("event", "stage", "touchpoint", "channel")
#: how many steps the step matrix covers when ``depth`` is not given.
MATRIX_DEPTH = 10

__all__ = ["PathsResult", "paths", "transitions"]


@dataclass
class PathsResult(Charted):
    by: str
    #: customers with a journey in the analysis (after start/end), the base of every share.
    customers: int
    #: [{"from", "to", "count", "customers"}]: consecutive pairs, most frequent first.
    transitions: list[dict] = field(default_factory=list)
    #: [{"path", "customers", "share", "converted", "conversion"}]: most common first.
    variants: list[dict] = field(default_factory=list)
    #: [{"step", "item", "customers", "share"}]: where customers are at step k.
    step_matrix: list[dict] = field(default_factory=list)
    #: [{"item", "customers", "returns"}]: customers coming back to an item already seen.
    loops: list[dict] = field(default_factory=list)
    #: [{"from", "to", "count", "customers"}]: consecutive stages going back (index decreases).
    backward_moves: list[dict] = field(default_factory=list)
    #: [{"step", "from", "to", "customers"}]: transitions from step k to k+1, for the Sankey.
    flows: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        keys = ("transitions", "variants", "step_matrix", "loops", "backward_moves", "flows")
        out = {"by": self.by, "customers": self.customers}
        out |= {k: [{f: json_ready(v) for f, v in row.items()} for row in getattr(self, k)] for k in keys}
        return out

    def to_frame(self) -> pd.DataFrame:
        """The transitions, one row per (from, to)."""
        return pd.DataFrame(self.transitions, columns=["from", "to", "count", "customers"])

    def sankey(self) -> dict:
        """Nodes and links for ``plotly.graph_objects.Sankey``: one node per (step, item).

        Nodes are per step so that loops do not make cycles, which a Sankey cannot draw.
        """
        index: dict[tuple[int, str], int] = {}
        nodes = []
        for row in self.step_matrix:
            index[(row["step"], row["item"])] = len(nodes)
            nodes.append({"label": row["item"], "step": row["step"], "customers": row["customers"]})
        links = {"source": [], "target": [], "value": []}
        for f in self.flows:
            a, b = index.get((f["step"], f["from"])), index.get((f["step"] + 1, f["to"]))
            if a is not None and b is not None:
                links["source"].append(a)
                links["target"].append(b)
                links["value"].append(f["customers"])
        return {
            "node": {"label": [n["label"] for n in nodes], "step": [n["step"] for n in nodes]},
            "link": links,
        }


def paths(
    store,
    by: str = "event",
    start: str | None = None,
    end: str | None = None,
    depth: int | None = None,
    min_share: float = 0.0,
    top: int = 20,
    *,
    conversion_event: str = "purchase",
    per: str = "customer",
    since=None,
    until=None,
    engine: str = "auto",
) -> PathsResult:
    """Transitions, path variants, step matrix, loops and backward stage moves.

    ``start`` keeps each journey from its first ``start`` item (journeys without it are left
    out); ``end`` cuts it after the first ``end`` item that follows; ``depth`` keeps the first
    ``depth`` items. ``min_share`` drops transitions, variants and flows done by a smaller
    share of customers; ``top`` is the number of variants returned. ``engine``: ``codes``
    reads journey_events in numpy (:mod:`.paths_codes`), ``portable`` runs Ibis over
    journey_view; ``auto`` takes the first when the store has it.
    """
    choice("by", by, ITEMS)
    if depth is not None and depth < 1:
        raise AnalysisError(f"depth must be at least 1, not {depth}")
    if not 0 <= min_share <= 1:
        raise AnalysisError(f"min_share must be between 0 and 1, not {min_share}")
    who = per_column(per)
    if use_codes(store, engine):
        from .paths_codes import paths_from_codes

        return paths_from_codes(store, by, start, end, depth, min_share, top, conversion_event, who,
                                since, until)
    t = journey(store, since, until)
    t = t.filter(t[who].notnull())

    seq = _trimmed(t, who, by, start, end)
    total = int(seq.who.nunique().execute() or 0)
    result = PathsResult(by=by, customers=total)
    if total:
        shown = seq if depth is None else seq.filter(seq.k < depth)
        result.transitions = _transitions(shown, total, min_share)
        matrix_depth = depth or MATRIX_DEPTH
        result.step_matrix = _step_matrix(seq.filter(seq.k < matrix_depth), total)
        result.flows = _flows(seq.filter(seq.k < matrix_depth), total, min_share)
        collapsed = _collapse(seq)
        result.variants = _variants(t, who, collapsed, depth, total, min_share, top, conversion_event)
        result.loops = _loops(collapsed)
    result.backward_moves = _backward_moves(t, who)
    return result


def transitions(
    store,
    by: str = "event",
    min_share: float = 0.0,
    *,
    per: str = "customer",
    since=None,
    until=None,
    engine: str = "auto",
) -> PathsResult:
    """Only the transition matrix of :func:`paths` (no start/end/depth): ``customers`` and
    ``transitions`` filled, the other parts left empty. The question the benchmark asks."""
    choice("by", by, ITEMS)
    if not 0 <= min_share <= 1:
        raise AnalysisError(f"min_share must be between 0 and 1, not {min_share}")
    who = per_column(per)
    if use_codes(store, engine):
        from .paths_codes import transitions_from_codes

        return transitions_from_codes(store, by, min_share, who, since, until)
    t = journey(store, since, until)
    seq = _trimmed(t.filter(t[who].notnull()), who, by, None, None)
    total = int(seq.who.nunique().execute() or 0)
    return PathsResult(by=by, customers=total, transitions=_transitions(seq, total, min_share) if total else [])


# -- building blocks ---------------------------------------------------------------------


def _in_order(t, key="k"):
    return ibis.window(group_by=t.who, order_by=[t[key]])


def _collapse(t, key="k"):
    """Drop an item equal to the one just before it (a a b a -> a b a), and renumber k."""
    prev = t.item.lag().over(_in_order(t, key))
    kept = t.filter(prev.isnull() | (prev != t.item))
    return kept.mutate(k=ibis.row_number().over(_in_order(kept, key)))


def _trimmed(t, who, by, start, end):
    """Per customer: ``who``, ``item`` and its 0-based position ``k``, start/end applied."""
    s = t.filter(t[by].notnull()).select(
        who=t[who], item=t[by].cast("string"), timestamp=t.timestamp, seq=t.seq, event_id=t.event_id
    )
    s = s.mutate(k=ibis.row_number().over(group_by=s.who, order_by=[s.timestamp, s.seq, s.event_id]))
    if by == "stage":
        # A stage lasts over many events: the journey is the sequence of stage changes.
        s = _collapse(s)
    everyone = ibis.window(group_by=s.who)
    if start is not None:
        s = s.mutate(first=s.k.min(where=s.item == start).over(everyone))
        s = s.filter(s.k >= s.first).mutate(k=s.k - s.first)
    if end is not None:
        after_start = s.k > 0 if start is not None else s.k >= 0
        s = s.mutate(last=s.k.min(where=(s.item == end) & after_start).over(everyone))
        s = s.filter(s.last.isnull() | (s.k <= s.last))
    return s.select("who", "item", "k")


def _transitions(seq, total, min_share):
    pairs = seq.mutate(to=seq.item.lead().over(_in_order(seq))).filter(lambda p: p.to.notnull())
    agg = pairs.group_by(["item", "to"]).aggregate(count=pairs.count(), customers=pairs.who.nunique())
    agg = agg.filter(agg.customers >= min_share * total).rename({"from": "item"})
    return _records(agg.order_by([ibis.desc("count"), "from", "to"]))


def _flows(seq, total, min_share):
    pairs = seq.mutate(to=seq.item.lead().over(_in_order(seq))).filter(lambda p: p.to.notnull())
    agg = pairs.group_by(["k", "item", "to"]).aggregate(customers=pairs.who.nunique())
    agg = agg.filter(agg.customers >= min_share * total).rename({"step": "k", "from": "item"})
    return _records(agg.order_by(["step", ibis.desc("customers"), "from", "to"]))


def _step_matrix(seq, total):
    agg = seq.group_by(["k", "item"]).aggregate(customers=seq.who.nunique())
    agg = agg.mutate(share=agg.customers / total).rename({"step": "k"})
    return _records(agg.order_by(["step", ibis.desc("customers"), "item"]))


def _variants(t, who, collapsed, depth, total, min_share, top, conversion_event):
    if depth is not None:
        collapsed = collapsed.filter(collapsed.k < depth)
    per_customer = collapsed.group_by("who").aggregate(path=collapsed.item.collect(order_by=collapsed.k))
    buyers = t.filter(t.event == conversion_event).select(buyer=t[who]).distinct()
    flagged = per_customer.left_join(buyers, per_customer.who == buyers.buyer)
    agg = flagged.group_by("path").aggregate(
        customers=flagged.count(), converted=flagged.buyer.notnull().sum()
    )
    agg = agg.filter(agg.customers >= min_share * total).mutate(
        share=lambda a: a.customers / total, conversion=lambda a: a.converted / a.customers
    )
    rows = agg.order_by([ibis.desc("customers"), "path"]).limit(top).execute()
    return [
        {"path": list(r.path), "customers": int(r.customers), "share": float(r.share),
         "converted": int(r.converted), "conversion": float(r.conversion)}
        for r in rows.itertuples()
    ]


def _loops(collapsed):
    visit = ibis.row_number().over(group_by=[collapsed.who, collapsed.item], order_by=collapsed.k)
    again = collapsed.mutate(visit=visit).filter(lambda v: v.visit > 0)
    agg = again.group_by("item").aggregate(customers=again.who.nunique(), returns=again.count())
    return _records(agg.order_by([ibis.desc("customers"), ibis.desc("returns"), "item"]))


def _backward_moves(t, who):
    """Consecutive stage changes to a stage of lower index, over the whole journey."""
    s = t.filter(t.stage.notnull() & t.stage_index.notnull()).select(
        who=t[who], item=t.stage, index=t.stage_index, timestamp=t.timestamp, seq=t.seq, event_id=t.event_id
    )
    s = s.mutate(k=ibis.row_number().over(group_by=s.who, order_by=[s.timestamp, s.seq, s.event_id]))
    s = _collapse(s)
    w = _in_order(s)
    moves = s.mutate(to=s.item.lead().over(w), to_index=s.index.lead().over(w))
    moves = moves.filter(moves.to_index < moves.index)
    agg = moves.group_by(["item", "to"]).aggregate(count=moves.count(), customers=moves.who.nunique())
    return _records(agg.rename({"from": "item"}).order_by([ibis.desc("count"), "from", "to"]))


def _records(expr) -> list[dict]:
    frame = expr.execute()
    return [{k: json_ready(v) for k, v in row.items()} for row in frame.to_dict("records")]
