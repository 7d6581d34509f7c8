"""Send windows and quiet hours against a minute-by-minute reference, across clock changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from parcours.act.engine import after_quiet, next_in_window

MIN = dt.timedelta(minutes=1)
# around the 2024 clock changes of Paris (31 March, 27 October) and New York (10 March, 3 November)
BASES = [dt.datetime(2024, 3, 30), dt.datetime(2024, 10, 26), dt.datetime(2024, 3, 9), dt.datetime(2024, 11, 2)]
ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]


def local_time(t: dt.datetime, zone: str) -> dt.time:
    return t.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(zone)).time()


def inside(x: dt.time, a: dt.time, b: dt.time) -> bool:
    return (a <= x < b) if a < b else not (b <= x < a)


def first_minute(t, zone, ok) -> dt.datetime:
    u = t
    while not ok(local_time(u, zone)):
        u += MIN
    return u


clock = st.integers(0, 47).map(lambda k: dt.time(k // 2, 30 * (k % 2)))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BASES), st.integers(0, 4 * 24 * 60), st.sampled_from(ZONES), clock, clock)
@example(dt.datetime(2024, 3, 30), 23 * 60, "Europe/Paris", dt.time(2, 30), dt.time(5, 0))  # 02:30 does not exist
def test_window_and_quiet_hours_equal_a_minute_by_minute_scan(base, minutes, zone, a, b):
    if a == b:
        return
    t = base + minutes * MIN
    rng = f"{a:%H:%M}-{b:%H:%M}"
    assert next_in_window(t, ZoneInfo(zone), rng) == first_minute(t, zone, lambda x: inside(x, a, b))
    assert after_quiet(t, ZoneInfo(zone), rng) == first_minute(t, zone, lambda x: not inside(x, a, b))
