"""Deterministic ids and draws: the same inputs give the same message id, coupon or group.

Hashing instead of random numbers is what makes a re-run agree with the run it replaces:
after a crash, the replayed step produces the same message id (so nothing is sent twice) and
the same holdout or variant (so nobody changes group).
"""

from __future__ import annotations

import base64
import hashlib


def _digest(parts, size: int) -> bytes:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).digest()


def unit_hash(*parts) -> float:
    """A number in [0, 1) spread uniformly over inputs, e.g. ``unit_hash("holdout", sc, cust)``."""
    return int.from_bytes(_digest(parts, 8), "big") / 2.0 ** 64


def short_id(*parts, length: int = 20) -> str:
    """A hexadecimal id (``length`` digits), e.g. a message id."""
    return _digest(parts, (length + 1) // 2).hex()[:length]


def code(prefix: str, *parts, length: int = 8) -> str:
    """A customer-facing code such as ``R-K3JD8QW2``: base32, upper case, no 0/1/8/9 to misread."""
    return f"{prefix}-{base64.b32encode(_digest(parts, 10)).decode()[:length]}"


__all__ = ["unit_hash", "short_id", "code"]
