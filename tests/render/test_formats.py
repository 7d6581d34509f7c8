"""Numbers as people read them: the same value in French and English, nothing lost or invented."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcours.render.formats import cell, duration, num, pct


def parse(text: str, lang: str) -> float:
    """The plain reading of a formatted number: what a person (or a spreadsheet) would type."""
    if lang == "fr":
        return float(text.replace("\u202f", "").replace(",", "."))
    return float(text.replace(",", ""))


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), st.integers(0, 3), st.sampled_from(["fr", "en"]))
def test_num_reads_back_as_the_rounded_value(value, digits, lang):
    text = num(value, lang, digits)
    assert parse(text, lang) == pytest.approx(round(value, digits), abs=10 ** -digits)
    assert ("." not in text) if lang == "fr" else ("\u202f" not in text)


@given(st.floats(min_value=0, max_value=1), st.sampled_from(["fr", "en"]))
def test_a_share_is_a_percentage_with_one_decimal(value, lang):
    text = pct(value, lang, 1)
    suffix = "\u202f%" if lang == "fr" else "%"
    assert text.endswith(suffix)
    assert parse(text[: -len(suffix)], lang) == pytest.approx(100 * value, abs=0.05 + 1e-9)


@pytest.mark.parametrize("seconds, fr, en", [
    (0, "0 s", "0 s"), (59.4, "59 s", "59 s"), (600, "10 min", "10 min"), (4 * 3600, "4 h", "4 h"),
    (86400 * 3, "3,0 j", "3.0 d"), (86400 * 1500, "1\u202f500,0 j", "1,500.0 d"),
])
def test_durations_pick_the_unit_that_reads_best(seconds, fr, en):
    assert (duration(seconds, "fr"), duration(seconds, "en")) == (fr, en)


def test_a_cell_is_told_by_its_column():
    assert cell("count", np.int64(13131), "fr") == "13\u202f131"
    assert cell("count", 13131, "en") == "13,131"
    assert cell("conversion_from_previous", np.float64(0.6054), "fr") == "60,5\u202f%"
    assert cell("repurchase_rate", 0.25, "en") == "25.0%"
    assert cell("median_seconds", 98746.5, "en") == "27 h"
    assert cell("time_spent", 120, "fr") == "2 min"
    assert cell("pages_per_person", 21.236, "fr") == "21,2"
    assert cell("value", 494913.27, "en") == "494,913"
    assert cell("value", 0.00036321, "en") == "0.000363"
    assert cell("x", 0.0, "en") == "0"
    for missing in (None, float("nan"), np.nan):
        assert cell("count", missing, "fr") == ""
    assert cell("period", "2025-01-01", "fr") == "2025-01-01"
    assert cell("met", True, "fr") == "True"


@given(st.floats(min_value=1e-9, max_value=0.999, allow_nan=False), st.sampled_from(["fr", "en"]))
def test_a_small_number_keeps_three_significant_digits(value, lang):
    text = cell("x", value, lang)
    assert parse(text, lang) == pytest.approx(value, rel=5e-3)
    assert not math.isnan(parse(text, lang))


def test_signed_numbers_and_intervals_in_both_languages():
    from parcours.render.formats import interval, signed

    assert (signed(0.849, "fr", 3), signed(-0.03, "en"), signed(0, "en")) == ("+0,849", "-0.03", "+0.00")
    assert interval(-7.5, 3.2, "fr") == "[-7,5 ; 3,2]"
    assert interval(-7.5, 3.2, "en") == "[-7.5, 3.2]"
    assert interval(0.834, 0.864, "en", 3, sign=True) == "[+0.834, +0.864]"
