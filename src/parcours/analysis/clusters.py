"""Clustering of journeys: groups of persons whose journeys look alike, for behaviour segments.

Each person of ``journey_view`` is described by a few journey features (below), computed in
DuckDB; the features are standardised (``StandardScaler``: mean 0, unit variance, so that a
count of events and a sum of euros weigh alike) and grouped by scikit-learn's ``KMeans`` with
a fixed seed, so the same data and seed give the same clusters. Clusters are numbered from
the largest (1) to the smallest, and each is described by its most distinctive features: the
largest absolute values of its centre in standard deviations from the mean.

Features: ``events_<stage>`` (events in each stage), ``events``, ``channels`` (distinct
channels), ``days_active`` (distinct UTC days with an event), ``purchases`` (events named
``purchase_event``), ``value`` (sum of the events' value), ``backward_moves`` (consecutive
events whose stage index goes down).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._common import JOURNEY, json_ready

__all__ = ["ClustersResult", "journey_features", "journey_clusters"]

BASE_FEATURES = ("events", "channels", "days_active", "purchases", "value", "backward_moves")


def journey_features(store, purchase_event: str = "purchase") -> pd.DataFrame:
    """One row per person (index ``person_id``, sorted), one column per feature."""
    base = store.sql(f"""
        WITH e AS (
            SELECT person_id, "timestamp", event, channel, value, stage_index,
                   lag(stage_index) OVER (PARTITION BY person_id ORDER BY "timestamp", seq) AS prev
            FROM {JOURNEY} WHERE person_id IS NOT NULL)
        SELECT person_id, count(*) AS events, count(DISTINCT channel) AS channels,
               count(DISTINCT CAST("timestamp" AS DATE)) AS days_active,
               count(*) FILTER (WHERE event = ?) AS purchases,
               coalesce(sum(value), 0) AS value,
               count(*) FILTER (WHERE stage_index < prev) AS backward_moves
        FROM e GROUP BY person_id""", [purchase_event]).df().set_index("person_id")
    stages = store.sql(f"""SELECT person_id, 'events_' || stage AS f, count(*) AS n FROM {JOURNEY}
        WHERE person_id IS NOT NULL AND stage IS NOT NULL GROUP BY ALL""").df()
    wide = stages.pivot_table(index="person_id", columns="f", values="n", aggfunc="sum", fill_value=0)
    frame = base.join(wide.reindex(columns=sorted(wide.columns)), how="left").fillna(0)
    return frame.astype(float).sort_index()


@dataclass
class ClustersResult:
    k: int
    seed: int
    features: list[str]
    #: [{"cluster": 1.., "size", "share", "centre": {feature: mean}, "distinctive": [{"feature",
    #:   "z", "direction"}]}], largest cluster first.
    clusters: list[dict] = field(default_factory=list)
    #: person_id -> cluster number (1..k)
    labels: dict[str, int] = field(default_factory=dict)

    def members(self, cluster: int) -> list[str]:
        return sorted(p for p, c in self.labels.items() if c == cluster)

    def to_dict(self) -> dict:
        return {"k": self.k, "seed": self.seed, "features": self.features, "clusters": self.clusters}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(sorted(self.labels.items()), columns=["person_id", "cluster"])


def journey_clusters(store, k: int, seed: int = 0, purchase_event: str = "purchase",
                     distinctive: int = 3) -> ClustersResult:
    """KMeans with ``k`` clusters on the standardised journey features of every person."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if not store.has_table(JOURNEY):
        raise AnalysisError("no journey tables: run the stage assignment (parcours refresh) first")
    if not isinstance(k, int) or k < 2:
        raise AnalysisError(f"the number of clusters must be an integer of at least 2, not {k!r}")
    frame = journey_features(store, purchase_event)
    if len(frame) < k:
        raise AnalysisError(f"cannot make {k} clusters of {len(frame)} persons")
    z = StandardScaler().fit_transform(frame.to_numpy())
    # One thread: on 3,000 persons KMeans took 4.9 s with the default OpenMP threads on a busy
    # 2-core machine and 0.15 s with one; and the result no longer depends on the thread count.
    with threadpool_limits(1):
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(z)
    raw = model.labels_
    # Number clusters by size (largest first), ties by their centre, so the order is stable.
    sizes = np.bincount(raw, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(model.cluster_centers_[c])))
    number = {c: i + 1 for i, c in enumerate(order)}
    features = list(frame.columns)
    result = ClustersResult(k, seed, features)
    result.labels = {p: number[c] for p, c in zip(frame.index, raw)}
    for c in order:
        inside = frame.to_numpy()[raw == c]
        centre = model.cluster_centers_[c]
        top = np.argsort(-np.abs(centre), kind="stable")[:distinctive]
        result.clusters.append({
            "cluster": number[c],
            "size": int(sizes[c]),
            "share": float(sizes[c] / len(frame)),
            "centre": {f: json_ready(float(v)) for f, v in zip(features, inside.mean(axis=0))},
            "distinctive": [{"feature": features[i], "z": float(centre[i]),
                             "direction": "high" if centre[i] > 0 else "low"} for i in top],
        })
    return result
