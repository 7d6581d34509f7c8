"""Helpers shared by the analyses: steps and their conditions, durations, the time range.

Validation happens here, once, at the public boundary of each analysis; what these helpers
return is trusted by the private code behind them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import ibis

from ..errors import AnalysisError, ConfigError

#: the store view every analysis reads (built by the journey layer).
JOURNEY = "journey_view"

#: who a journey belongs to: one person, or one B2B account (its people's events together).
PER_COLUMNS = {"customer": "person_id", "account": "account_id"}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: str | int | float | dt.timedelta) -> dt.timedelta:
    """``"14d"``, ``"2h"``, ``"30m"``, ``"45s"``, ``"1w"``, a number of seconds or a timedelta."""
    if isinstance(value, dt.timedelta):
        delta = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        delta = dt.timedelta(seconds=value)
    elif isinstance(value, str) and (m := _DURATION.match(value.lower())):
        delta = dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    else:
        raise AnalysisError(
            f"invalid duration {value!r}: expected a number and a unit s, m, h, d or w, e.g. 14d"
        )
    if delta <= dt.timedelta(0):
        raise AnalysisError(f"invalid duration {value!r}: it must be positive")
    return delta


@dataclass(frozen=True)
class Step:
    """One funnel step: the events it matches (all given conditions must hold).

    ``stage`` matches the event's stage id instead of (or as well as) its name.
    """

    event: str | None = None
    channel: str | None = None
    touchpoint: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    stage: str | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        base = self.event if self.event is not None else self.stage
        extra = [f"{k}={v}" for k, v in (("channel", self.channel), ("touchpoint", self.touchpoint)) if v]
        extra += [f"{k}={v}" for k, v in sorted(self.properties.items())]
        return f"{base} [{', '.join(extra)}]" if extra else base

    def matches(self, t) -> ibis.expr.types.BooleanValue:
        """The Ibis condition an event of table ``t`` must meet to be this step."""
        conds = []
        if self.event is not None:
            conds.append(t.event == self.event)
        if self.stage is not None:
            conds.append(t.stage == self.stage)
        if self.channel is not None:
            conds.append(t.channel == self.channel)
        if self.touchpoint is not None:
            conds.append(t.touchpoint == self.touchpoint)
        for key, want in self.properties.items():
            conds.append(_json_equals(t.properties[key], want))
        return ibis.and_(*conds).fill_null(False)

    def matches_dict(self, e: Mapping[str, Any]) -> bool:
        """The same condition over one event as a plain dict (used by tests' references)."""
        if self.event is not None and e.get("event") != self.event:
            return False
        if self.stage is not None and e.get("stage") != self.stage:
            return False
        if self.channel is not None and e.get("channel") != self.channel:
            return False
        if self.touchpoint is not None and e.get("touchpoint") != self.touchpoint:
            return False
        props = e.get("properties") or {}
        return all(k in props and props[k] == v and type(props[k]) is type(v) for k, v in self.properties.items())


def _json_equals(value, want):
    # Typed comparisons: "1" (text) and 1 (number) are different values, as in the JSON.
    if isinstance(want, bool):
        return value.bool == want
    if isinstance(want, int):
        return value.int == want
    if isinstance(want, float):
        return value.float == want
    if isinstance(want, str):
        return value.str == want
    raise AnalysisError(f"a step property must be text, a number or a boolean, not {want!r}")


def as_step(spec: str | Mapping[str, Any] | Step, *, stage: bool = False) -> Step:
    """A step from an event name, a stage id (``stage=True``), a dict of conditions or a Step."""
    if isinstance(spec, Step):
        return spec
    if isinstance(spec, str):
        if not spec:
            raise AnalysisError("a step name cannot be empty")
        return Step(stage=spec) if stage else Step(event=spec)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"event", "channel", "touchpoint", "properties", "stage", "label"}
        if unknown:
            raise AnalysisError(f"unknown step condition(s) {sorted(unknown)} in {dict(spec)!r}")
        step = Step(**{**spec, "properties": dict(spec.get("properties") or {})})
        if step.event is None and step.stage is None:
            raise AnalysisError(f"a step needs an event or a stage: {dict(spec)!r}")
        return step
    raise AnalysisError(f"invalid step {spec!r}: expected an event name, a dict or a Step")


class Charted:
    """A result that has a picture: ``chart(lang)``, the first of ``render.charts.figures``."""

    def chart(self, lang: str = "fr"):
        from ..render.charts import figures

        return figures(self, lang)[0][1]


def parse_step_text(text: str) -> dict | str:
    """``NAME`` or ``NAME[channel=web,touchpoint=cart,properties.device=mobile]`` to a step."""
    m = re.fullmatch(r"\s*([^\[\]]+?)\s*(?:\[(.*)\])?\s*", text)
    if not m:
        raise ConfigError(f"cannot read the step {text!r}: expected NAME or NAME[key=value,...]")
    name, conds = m.group(1), m.group(2)
    if not conds:
        return name
    step: dict = {"event": name, "properties": {}}
    for part in conds.split(","):
        if "=" not in part:
            raise ConfigError(f"step condition {part!r} in {text!r}: expected key=value")
        key, value = (x.strip() for x in part.split("=", 1))
        if key.startswith("properties."):
            step["properties"][key[len("properties."):]] = _scalar(value)
        elif key in ("channel", "touchpoint", "stage"):
            step[key] = value
        else:
            raise ConfigError(f"unknown step condition {key!r} (channel, touchpoint, stage, properties.NAME)")
    return step


def steps_from_text(texts, model, stages: bool = False) -> list:
    """The funnel steps typed on a command line or in a query string (:func:`parse_step_text`);
    with none typed and ``stages``, the journey model's stages in order."""
    return [parse_step_text(s) for s in texts] or (list(model.stage_ids) if stages else [])


def _scalar(text: str):
    """A property value as typed in a step: true/false, numbers, else text."""
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip('"')


def as_steps(specs: Iterable, *, stages: bool = False) -> list[Step]:
    steps = [as_step(s, stage=stages) for s in specs]
    if not steps:
        raise AnalysisError("a funnel needs at least one step")
    return steps


def as_time(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """A naive UTC datetime from an ISO string, a date or a datetime (aware ones are converted)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise AnalysisError(f"invalid date {value!r}: expected ISO 8601, e.g. 2024-03-01") from exc
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def journey(store, since=None, until=None):
    """The journey view restricted to ``since <= timestamp < until`` (either bound optional)."""
    t = store.table(JOURNEY)
    lo, hi = as_time(since), as_time(until)
    if lo is not None:
        t = t.filter(t.timestamp >= lo)
    if hi is not None:
        t = t.filter(t.timestamp < hi)
    return t


def per_column(per: str) -> str:
    try:
        return PER_COLUMNS[per]
    except KeyError:
        raise AnalysisError(f"per must be one of {sorted(PER_COLUMNS)}, not {per!r}") from None


def choice(name: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise AnalysisError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def attribute_name(by: str | None) -> str | None:
    """``"attributes.segment"`` -> ``"segment"``; None for an event column."""
    if by and by.startswith("attributes."):
        name = by.removeprefix("attributes.")
        if not name:
            raise AnalysisError("by=attributes. needs an attribute name, e.g. attributes.segment")
        return name
    return None


def customer_attribute(store, name: str):
    """customer_id and one attribute (as text) of the canonical customers table."""
    c = store.table("customers")
    return c.select(customer_id=c.customer_id, value=c.attributes[name].str)


def json_ready(value):
    """Plain Python scalars for JSON: NaN becomes None, numpy numbers become Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value
