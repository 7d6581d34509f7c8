"""Friction declarations (YAML) and the calibration section of the generator's config.

A file holds an optional ``calibration:`` mapping (overrides of :data:`DEFAULT_CALIBRATION`)
and a ``frictions:`` list. See ``docs/generator.md`` for the format and the meaning of
``strength`` per kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError

KINDS = ("drop_off", "slowness", "loop", "superfluous_step", "silo", "price_inconsistency",
         "surprise_cost", "forced_account", "long_checkout", "negative_feedback", "audience_mismatch")
WHERE_KEYS = ("stage", "event", "touchpoint", "channel", "segment")

DEFAULT_FILE = Path(__file__).with_name("frictions.yaml")

#: the base world's rates (DOMAIN.md section 3); ``calibration:`` in a friction file overrides them
DEFAULT_CALIBRATION = {
    # share of people who reach consideration after awareness is 1 - this
    "awareness_abandonment": 0.38,
    # share of people at consideration who never reach the purchase stage (add_to_cart ...)
    "consideration_abandonment": 0.29,
    # purchase sessions / all web and app sessions (a visit = one properties.session_id)
    "visit_conversion": 0.029,
    # online cart abandonment (people who added to cart and did not buy)
    "cart_abandonment": 0.70,
    # reasons named by cart abandoners in the exit survey (several per answer), Baymard 2017
    "abandon_reasons": {"shipping_fees": 0.60, "account_forced": 0.37, "checkout_long": 0.28},
    # share of exit-survey answers among online abandoners
    "exit_survey_response": 0.5,
    # dissatisfied (CSAT 1-2) after a complaint / a cancellation, IPSOS 2017
    "complaint_dissatisfaction": 0.30,
    "cancellation_dissatisfaction": 0.36,
    # first contact skips awareness (direct visit)
    "direct_share": 0.10,
    "b2b_share": 0.08,
    "repeat_purchase": 0.38,
    "nps_response": 0.30,
}


@dataclass
class Friction:
    id: str
    kind: str
    where: dict = field(default_factory=dict)
    when: tuple[dt.date, dt.date] | None = None  # None: always
    strength: float = 0.5
    description: str = ""
    params: dict = field(default_factory=dict)

    def declaration(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "where": self.where,
               "when": "always" if self.when is None else {"from": self.when[0].isoformat(), "to": self.when[1].isoformat()},
               "strength": self.strength}
        if self.description:
            out["description"] = self.description
        if self.params:
            out["params"] = self.params
        return out

    def values(self, key: str) -> list:
        v = self.where.get(key)
        if v is None:
            return []
        return list(v) if isinstance(v, (list, tuple)) else [v]


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def parse_frictions(items, source: str = "frictions") -> list[Friction]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{source}: 'frictions' must be a list")
    out: list[Friction] = []
    seen = set()
    for i, item in enumerate(items):
        where = f"{source}: frictions[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(item) - {"id", "kind", "where", "when", "strength", "description", "params"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        fid = item.get("id")
        if not fid or not isinstance(fid, str):
            raise ConfigError(f"{where}: 'id' is required")
        if fid in seen:
            raise ConfigError(f"{where}: duplicate id {fid!r}")
        seen.add(fid)
        kind = item.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where} ({fid}): kind {kind!r} is not one of {', '.join(KINDS)}")
        w = item.get("where") or {}
        if not isinstance(w, dict) or set(w) - set(WHERE_KEYS):
            raise ConfigError(f"{where} ({fid}): 'where' takes only {', '.join(WHERE_KEYS)}")
        when = item.get("when", "always")
        if when in (None, "always"):
            window = None
        elif isinstance(when, dict) and set(when) == {"from", "to"}:
            window = (_date(when["from"], where), _date(when["to"], where))
            if window[1] < window[0]:
                raise ConfigError(f"{where} ({fid}): 'when.to' is before 'when.from'")
        else:
            raise ConfigError(f"{where} ({fid}): 'when' is 'always' or {{from: DATE, to: DATE}}")
        try:
            strength = float(item.get("strength", 0.5))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} ({fid}): 'strength' must be a number") from exc
        if not 0.0 <= strength <= 1.0:
            raise ConfigError(f"{where} ({fid}): 'strength' must be between 0 and 1")
        out.append(Friction(fid, kind, dict(w), window, strength, str(item.get("description", "")),
                            dict(item.get("params") or {})))
    return out


def load_config(frictions="default") -> tuple[list[Friction], dict]:
    """(frictions, calibration) from ``"default"``, a path, a list of mappings, or None."""
    cal = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_CALIBRATION.items()}
    if frictions is None:
        return [], cal
    if isinstance(frictions, list):
        return parse_frictions(frictions), cal
    path = DEFAULT_FILE if frictions == "default" else Path(frictions)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such friction file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if isinstance(doc, list):
        doc = {"frictions": doc}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with 'frictions' (and optionally 'calibration')")
    for k, v in (doc.get("calibration") or {}).items():
        if k not in cal:
            raise ConfigError(f"{path}: calibration: unknown rate {k!r}")
        if isinstance(cal[k], dict):
            cal[k].update(v)
        else:
            cal[k] = float(v)
    return parse_frictions(doc.get("frictions"), str(path)), cal
