"""The login rate limit against a plain reference: a try is refused when the same (user,
address) failed ``limit`` times in the last ``window`` seconds; a success clears its failures."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.web.sessions import LoginLimiter

STEPS = st.lists(st.tuples(st.sampled_from(["ana", "bob"]), st.sampled_from(["1.1.1.1", "2.2.2.2"]),
                           st.booleans(), st.sampled_from([0.0, 0.0, 1.0, 59.0, 60.0, 61.0, 299.0, 300.0])),
                 max_size=40)


def reference(steps, limit, window):
    """For each try: was it allowed? (the whole history kept, filtered at each step)"""
    now, failures, out = 0.0, [], []
    for user, address, ok, wait in steps:
        now += wait
        recent = [t for u, a, t in failures if (u, a) == (user, address) and now - t < window]
        allowed = len(recent) < limit
        out.append(allowed)
        if allowed:
            if ok:
                failures = [f for f in failures if (f[0], f[1]) != (user, address)]
            else:
                failures.append((user, address, now))
    return out


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, limit=st.integers(1, 5), window=st.sampled_from([60.0, 300.0]))
def test_limiter_matches_the_reference(steps, limit, window):
    clock = [0.0]
    limiter = LoginLimiter(limit, window, clock=lambda: clock[0])
    got = []
    for user, address, ok, wait in steps:
        clock[0] += wait
        wait_for = limiter.retry_after(user, address)
        got.append(wait_for == 0)
        if wait_for:
            assert 0 < wait_for <= window + 1
            continue
        (limiter.succeeded if ok else limiter.failed)(user, address)
    assert got == reference(steps, limit, window)


def test_five_failures_block_for_five_minutes():
    clock = [0.0]
    limiter = LoginLimiter(clock=lambda: clock[0])
    for _ in range(5):
        assert limiter.retry_after("ana", "ip") == 0
        limiter.failed("ana", "ip")
        clock[0] += 10
    assert limiter.retry_after("ana", "ip") == 300 - 50 + 1  # the first failure leaves the window at 300 s
    assert limiter.retry_after("ana", "other-ip") == 0
    clock[0] = 299.9
    assert limiter.retry_after("ana", "ip") > 0
    clock[0] = 300.0
    assert limiter.retry_after("ana", "ip") == 0
