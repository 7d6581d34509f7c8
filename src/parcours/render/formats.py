"""Numbers, shares and durations written the reader's way, in French or English.

One place for the pages (report, map), the command line and the demo, so a conversion reads
``60,5 %`` in French and ``60.5%`` in English wherever it is shown.
"""

from __future__ import annotations

import math
import numbers

#: Columns of analysis frames that hold a share (0..1), shown as percentages.
SHARE_COLUMNS = frozenset({"conversion_from_previous", "conversion_from_first", "share", "share_of_previous",
                           "conversion", "abandonment", "click_through", "removal_effect"})

#: Columns (or KPI metrics) that hold seconds, besides every ``*_seconds``.
DURATION_COLUMNS = frozenset({"time_spent"})


def num(v, lang: str = "fr", digits: int = 0) -> str:
    """A number the reader's way: ``12 345,6`` in French, ``12,345.6`` in English."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    text = f"{v:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def pct(v, lang: str = "fr", digits: int | None = None) -> str:
    """A share as a percentage; by default one decimal below 10 %."""
    if v is None:
        return "—"
    if digits is None:
        digits = 1 if abs(v) < 0.1 else 0
    return num(100 * v, lang, digits) + ("\u202f%" if lang == "fr" else "%")


def signed(v, lang: str = "fr", digits: int = 2) -> str:
    """A difference or a score around zero, always with its sign: ``+0,85`` / ``-0.12``."""
    if v is None:
        return "—"
    return ("+" if v >= 0 else "-") + num(abs(v), lang, digits)


def interval(low, high, lang: str = "fr", digits: int = 1, sign: bool = False) -> str:
    """A confidence interval: ``[-7,5 ; 3,2]`` in French (its comma is taken), ``[-7.5, 3.2]``."""
    write = signed if sign else num
    return f"[{write(low, lang, digits)}{' ; ' if lang == 'fr' else ', '}{write(high, lang, digits)}]"


def duration(seconds: float, lang: str = "fr") -> str:
    """A human duration: seconds, minutes, hours or days, whichever reads best."""
    for limit, unit, name in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < limit:
            return f"{num(seconds / unit, lang)} {name}"
    return f"{num(seconds / 86400, lang, 1)} {'j' if lang == 'fr' else 'd'}"


def cell(column: str, value, lang: str = "fr") -> str:
    """One value of an analysis frame for a person to read, its kind told by its column's name:
    ``*_seconds`` a duration, a share column a percentage, other numbers with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if column.endswith("_seconds") or column in DURATION_COLUMNS:
        return duration(value, lang)
    if column in SHARE_COLUMNS or column.endswith("_rate"):
        return pct(value, lang, 1)
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return num(value, lang)
    size = abs(value)
    if size < 1:  # three significant digits, however small
        return num(value, lang, max(3, 2 - math.floor(math.log10(size))))
    return num(value, lang, 0 if size >= 100 else 1 if size >= 10 else 2)
