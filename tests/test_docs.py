"""Documentation that must not drift from the code: every table column and CLI command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parcours.data.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("table", list(TABLES.values()), ids=lambda t: t.name)
def test_every_column_is_documented(table):
    text = (DOCS / "data-model.md").read_text(encoding="utf-8")
    section = text.split(f"## `{table.name}`", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    assert documented == set(table.names)
    for col in table.columns:
        assert col.doc_en and col.doc_fr, f"{table.name}.{col.name} needs both descriptions"
