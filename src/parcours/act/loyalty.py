"""Loyalty points: 1 point per euro spent (configurable), tiers at 100, 500 and 1000 points.

Points are events (``loyalty_points``, with ``points`` and ``balance`` in properties), so the
balance is the sum of a customer's point events and every analysis sees them. Crossing a tier
emits ``loyalty_tier_reached``, which a scenario (``loyalty-tier-upgrade``) can react to.
"""

from __future__ import annotations

from .settings import Tier


def points_for(value: float | None, per_euro: float) -> int:
    """Whole points for an amount: truncated toward zero (a refund takes its points back)."""
    if value is None:
        return 0
    return int(value * per_euro)


def crossed(before: int, after: int, tiers: list[Tier]) -> list[Tier]:
    """Tiers whose threshold lies in (before, after]: reached by this award, lowest first."""
    return [t for t in sorted(tiers, key=lambda t: t.points) if before < t.points <= after]


def tier_of(balance: int, tiers: list[Tier]) -> Tier | None:
    """The highest tier a balance has reached, or None below the first."""
    reached = [t for t in sorted(tiers, key=lambda t: t.points) if t.points <= balance]
    return reached[-1] if reached else None


__all__ = ["points_for", "crossed", "tier_of"]
