"""Demo and benchmark data: a fictitious French omnichannel retailer, with declared frictions.

``generate(out_dir, customers=20000, seed=0, frictions="default", locale="fr",
format="parquet")`` writes ``events``, ``customers``, ``feedback`` and ``spend`` in the
canonical columns of :mod:`parcours.data.schema`, plus ``truth.json`` (the frictions applied,
who they affected and their measured effect). Same seed, same bytes. See docs/generator.md.
"""

from __future__ import annotations

from .frictions import DEFAULT_CALIBRATION, DEFAULT_FILE, KINDS, Friction, load_config, parse_frictions
from .generate import FORMATS, GenerateReport, generate

__all__ = ["generate", "GenerateReport", "Friction", "load_config", "parse_frictions", "DEFAULT_CALIBRATION",
           "DEFAULT_FILE", "KINDS", "FORMATS"]
