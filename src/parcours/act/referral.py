"""Referral: a code per customer, and the referee's first purchase credits the referrer.

The link is any event of the referee carrying ``properties.referral_code`` (a sign-up
through the referral link, typically ``referral_signup``). The referrer is credited once per
referee, at the referee's first purchase, provided the code was used before or at it and
the referee is not the referrer: the credit is a ``referral_credited`` event of the referrer
(``properties.referee``), which a scenario goal or a reward scenario can use.
"""

from __future__ import annotations

from .engine import ACT_PREFIX, write_back

ISSUED = "referral_code_issued"
CREDITED = "referral_credited"


def credit_referrals(store, now) -> int:
    """Write the credits due up to ``now``; idempotent (event id per referee)."""
    with store.transaction() as con:
        rows = con.execute(f"""
            WITH codes AS (
                SELECT json_extract_string(properties, '$.referral_code') AS code,
                       arg_min(customer_id, "timestamp") AS referrer
                FROM events WHERE event = '{ISSUED}' AND "timestamp" <= ? GROUP BY 1),
            links AS (
                SELECT customer_id AS referee,
                       arg_min(json_extract_string(properties, '$.referral_code'), ("timestamp", _seq)) AS code,
                       min("timestamp") AS linked_at
                FROM events
                WHERE json_extract_string(properties, '$.referral_code') IS NOT NULL
                  AND event NOT IN ('{ISSUED}', '{CREDITED}') AND customer_id IS NOT NULL AND "timestamp" <= ?
                GROUP BY 1),
            firsts AS (
                SELECT customer_id, min("timestamp") AS first_purchase FROM events
                WHERE event = 'purchase' AND customer_id IS NOT NULL GROUP BY 1)
            SELECT c.referrer, l.referee, l.code, f.first_purchase
            FROM links l JOIN codes c USING (code) JOIN firsts f ON f.customer_id = l.referee
            WHERE f.first_purchase <= ? AND l.linked_at <= f.first_purchase AND c.referrer <> l.referee
              AND NOT EXISTS (SELECT 1 FROM events x WHERE x.event_id = '{ACT_PREFIX}referral:' || l.referee)
            ORDER BY l.referee""", [now, now, now]).fetchall()
        events = [{"event_id": f"{ACT_PREFIX}referral:{referee}", "customer_id": referrer, "timestamp": at,
                   "event": CREDITED, "channel": "referral", "touchpoint": "referral",
                   "properties": {"referee": referee, "referral_code": code_}}
                  for referrer, referee, code_, at in rows]
        return write_back(con, events) if events else 0


__all__ = ["credit_referrals", "ISSUED", "CREDITED"]
