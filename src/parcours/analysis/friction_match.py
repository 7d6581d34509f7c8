"""Scoring pain-point findings against the generator's planted frictions (``truth.json``).

The matching rule ("on kind and place", docs/painpoints.md): a finding matches a planted
friction when the kinds are equal, at least one key of the friction's ``where`` (stage,
event, touchpoint, channel, segment) has the same value in the finding, and no key that
both give differs. A finding that leaves a key open (no segment, say) does not contradict.
"""

from __future__ import annotations

KEYS = ("stage", "event", "touchpoint", "channel", "segment")


def _values(v) -> set:
    if v is None:
        return set()
    return {str(x) for x in v} if isinstance(v, (list, tuple)) else {str(v)}


def matches(friction: dict, finding: dict) -> bool:
    if friction["kind"] != finding["kind"]:
        return False
    shared = 0
    for key in KEYS:
        want, got = _values(friction.get("where", {}).get(key)), finding.get(key)
        if not want or got is None:
            continue
        if str(got) not in want:
            return False
        shared += 1
    return shared > 0


def score(frictions: list[dict], findings: list[dict]) -> dict:
    """Recall (planted frictions found), precision (findings that are planted), and who matched."""
    found = [f["id"] for f in frictions if any(matches(f, p) for p in findings)]
    true = [p for p in findings if any(matches(f, p) for f in frictions)]
    return {"planted": len(frictions), "found": found,
            "missed": [f["id"] for f in frictions if f["id"] not in found],
            "findings": len(findings), "true_findings": len(true),
            "false_findings": [p for p in findings if p not in true],
            "recall": len(found) / len(frictions) if frictions else None,
            "precision": len(true) / len(findings) if findings else None}
