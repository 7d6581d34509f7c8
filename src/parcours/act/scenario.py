"""Scenarios: what ``scenarios/*.yaml`` declares, validated with the file, line and field.

A scenario is an entry (what makes a customer start it), a list of steps run in order
(waits, splits, actions), a goal that ends it early and exit criteria. The people writing
these files are marketers, so every mistake is reported as
``scenarios/cart.yaml:12: steps[1].wait: expected a duration such as 30m, 12h, 14d or 2w``
with the helpers journey.yaml uses.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError
from ..journey.model import Text, _fail, _locate, property_text

Scalar = Union[str, int, float, bool]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")

#: channels a message can go through; each has its consent attribute ``consent_<channel>``.
CHANNELS = ("email", "sms", "webhook")


@lru_cache(maxsize=256)
def duration(text: str) -> dt.timedelta:
    n, unit = _DURATION.match(text).groups()
    return dt.timedelta(seconds=int(n) * _UNIT[unit])


def _check_duration(v: str) -> str:
    if not isinstance(v, str) or not _DURATION.match(v):
        raise ValueError("expected a duration such as 30m, 12h, 14d or 2w")
    return v


def _check_clock_range(v: str) -> str:
    parts = v.split("-") if isinstance(v, str) else []
    if len(parts) != 2 or not all(_CLOCK.match(p.strip()) for p in parts):
        raise ValueError("expected a range of local times such as 09:00-20:00")
    if parts[0].strip() == parts[1].strip():
        raise ValueError("the range starts and ends at the same time: it would be empty or the whole day")
    return v


def clock_range(v: str) -> tuple[dt.time, dt.time]:
    a, b = (dt.time.fromisoformat(p.strip()) for p in v.split("-"))
    return a, b


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt field silently ignored is a wrong campaign."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class EventCond(_Strict):
    """Events that match: every condition given holds (absent ones match anything)."""

    event: str
    channel: str | None = None
    touchpoint: str | None = None
    properties: dict[str, Scalar] = {}

    def matches(self, e: dict) -> bool:
        if e.get("event") != self.event:
            return False
        if self.channel is not None and e.get("channel") != self.channel:
            return False
        if self.touchpoint is not None and e.get("touchpoint") != self.touchpoint:
            return False
        props = e.get("properties") or {}
        return all(property_text(props.get(k)) == property_text(v) for k, v in self.properties.items())

    def sql(self, alias: str = "e") -> tuple[str, list]:
        """The same condition as SQL over ``events`` (text comparison, as journey rules do)."""
        conds, params = [f"{alias}.event = ?"], [self.event]
        for col in ("channel", "touchpoint"):
            if getattr(self, col) is not None:
                conds.append(f"{alias}.{col} = ?")
                params.append(getattr(self, col))
        for k, v in self.properties.items():
            conds.append(f"json_extract_string({alias}.properties, ?) = ?")
            params += ["$." + k, property_text(v)]
        return " AND ".join(conds), params


class Condition(_Strict):
    """A test on the customer at the moment a step runs: attributes and/or past events."""

    attributes: dict[str, Union[Scalar, list[Scalar]]] = {}
    event: EventCond | None = None
    #: the event must have happened in this duration before the step (default: since entry).
    within: str | None = None
    negate: bool = Field(False, alias="not")

    @field_validator("within")
    @classmethod
    def _within(cls, v):
        return v if v is None else _check_duration(v)

    @model_validator(mode="after")
    def _something(self):
        if not self.attributes and self.event is None:
            raise ValueError("a condition needs attributes or an event")
        return self


class Entry(_Strict):
    """What makes a customer start the scenario: exactly one kind of trigger."""

    event: EventCond | None = None
    stage: dict[Literal["enter", "leave"], str] | None = None
    segment: dict[Literal["enter"], str] | None = None
    inactivity: str | None = None
    date: dt.datetime | None = None
    feedback: dict[str, Union[str, float]] | None = None
    api: bool = False
    where: dict[str, Union[Scalar, list[Scalar]]] = {}
    #: once: never twice; after_exit: again once the previous run ended; always: every trigger.
    reentry: Literal["once", "after_exit", "always"] = "after_exit"

    @field_validator("inactivity")
    @classmethod
    def _inactivity(cls, v):
        return v if v is None else _check_duration(v)

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("event", "stage", "segment", "inactivity", "date", "feedback")
                 if getattr(self, k) is not None] + (["api"] if self.api else [])
        if len(kinds) != 1:
            raise ValueError("an entry needs exactly one of event, stage, segment, inactivity, date, "
                             f"feedback, api (found: {', '.join(kinds) or 'none'})")
        if self.stage is not None and len(self.stage) != 1:
            raise ValueError("stage takes one of enter or leave")
        if self.feedback is not None:
            unknown = set(self.feedback) - {"kind", "min_score", "max_score"}
            if unknown or "kind" not in self.feedback:
                raise ValueError("feedback takes kind and optional min_score, max_score")
        return self

    @property
    def kind(self) -> str:
        for k in ("event", "stage", "segment", "inactivity", "date", "feedback"):
            if getattr(self, k) is not None:
                return k
        return "api"


class Goal(_Strict):
    """The event that ends the scenario as a success, and the window the lift is measured on."""

    event: EventCond
    within: str = "7d"

    @field_validator("within")
    @classmethod
    def _within(cls, v):
        return _check_duration(v)


class Wait(_Strict):
    """A delay; or until an event (with a time-out); or until the customer's local send window."""

    delay: str | None = None
    until: EventCond | None = None
    timeout: str | None = None
    window: str | None = None

    @field_validator("delay", "timeout")
    @classmethod
    def _durations(cls, v):
        return v if v is None else _check_duration(v)

    @field_validator("window")
    @classmethod
    def _window(cls, v):
        return v if v is None else _check_clock_range(v)

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("delay", "until", "window") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a wait needs exactly one of delay, until (with timeout) or window")
        if self.until is not None and self.timeout is None:
            raise ValueError("waiting until an event needs a timeout")
        if self.timeout is not None and self.until is None:
            raise ValueError("timeout only goes with until")
        return self


class Split(_Strict):
    """Go to ``then`` when the condition holds, else to ``else`` (default: the next step)."""

    condition: Condition = Field(alias="if")
    then: str | None = None
    else_: str | None = Field(None, alias="else")


class Variant(_Strict):
    name: str = Field(min_length=1)
    weight: float = Field(gt=0)
    goto: str | None = None


class Message(_Strict):
    subject: Text | None = None
    body: Text


class Action(_Strict):
    """One thing done for the customer; ``kind`` says which, the other fields configure it."""

    kind: Literal["email", "sms", "webhook", "survey", "offer", "referral", "loyalty", "tag", "task"]
    #: the channel a survey, offer or referral invitation goes through.
    via: Literal["email", "sms", "webhook"] | None = None
    message: Message | None = None
    survey: Literal["nps", "csat", "ces"] | None = None
    discount: str | None = None
    per_euro: float | None = None
    tags: dict[str, Scalar] = {}
    assignee: str | None = None
    note: Text | None = None
    #: webhook actions: the channel name in act.yaml's ``channels``.
    channel: str | None = None

    @property
    def channel_name(self) -> str | None:
        """The channel the customer is contacted on, or None for bookkeeping actions."""
        if self.kind in ("email", "sms"):
            return self.kind
        if self.kind == "webhook":
            return "webhook"
        if self.kind in ("survey", "offer", "referral"):
            return self.via or "email"
        if self.kind == "task":
            return "task"
        return None

    @model_validator(mode="after")
    def _fields(self):
        needs_message = self.kind in ("email", "sms", "webhook", "survey", "offer", "referral")
        if needs_message and self.message is None:
            raise ValueError(f"a {self.kind} action needs a message (body in fr and en)")
        if self.channel_name == "email" and self.message is not None and self.message.subject is None:
            raise ValueError("an e-mail needs a subject in fr and en")
        if self.kind == "survey" and self.survey is None:
            raise ValueError("a survey action needs survey: nps, csat or ces")
        if self.kind == "loyalty" and (self.per_euro is None or self.per_euro <= 0):
            raise ValueError("a loyalty action needs per_euro (points per euro, e.g. 1)")
        if self.kind == "tag" and not self.tags:
            raise ValueError("a tag action needs tags: {name: value}")
        if self.kind == "task" and (self.assignee is None or self.note is None):
            raise ValueError("a task needs an assignee and a note in fr and en")
        if self.kind == "webhook" and not self.channel:
            raise ValueError("a webhook action needs channel: a name from act.yaml channels")
        for text in self._texts():
            _check_template(text)
        return self

    def _texts(self):
        if self.message is not None:
            for t in (self.message.subject, self.message.body):
                if t is not None:
                    yield t.fr
                    yield t.en
        if self.note is not None:
            yield self.note.fr
            yield self.note.en


def _check_template(text: str) -> None:
    try:
        for _, field_name, _, _ in string.Formatter().parse(text):
            if field_name is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\[[A-Za-z0-9_]+\])?$", field_name):
                raise ValueError(f"invalid placeholder {{{field_name}}}: use {{name}} or {{entry[name]}}")
    except ValueError as exc:
        raise ValueError(f"template {text[:40]!r}: {exc}") from None


class StepSpec(_Strict):
    """One step: exactly one of wait, split, random, action, end; ``goto`` jumps afterwards."""

    id: str | None = None
    wait: Union[str, Wait, None] = None
    split: Split | None = None
    random: list[Variant] | None = None
    action: Action | None = None
    end: bool = False
    goto: str | None = None

    @field_validator("wait", mode="before")
    @classmethod
    def _wait(cls, v):
        if isinstance(v, str):
            _check_duration(v)
            return Wait(delay=v)
        return v

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("wait", "split", "random", "action") if getattr(self, k) is not None]
        given += ["end"] if self.end else []
        if len(given) != 1:
            raise ValueError("a step needs exactly one of wait, split, random, action, end "
                             f"(found: {', '.join(given) or 'none'})")
        if self.id is not None and not _ID.match(self.id):
            raise ValueError("a step id uses letters, digits, _ . -")
        return self

    @property
    def kind(self) -> str:
        for k in ("wait", "split", "random", "action"):
            if getattr(self, k) is not None:
                return k
        return "end"


class Scenario(_Strict):
    name: str = Field(min_length=1)
    labels: Text | None = None
    entry: Entry
    steps: list[StepSpec] = Field(min_length=1)
    goal: Goal | None = None
    exit: list[EventCond] = []
    #: share of entrants kept aside (random, by hash): they walk the steps, nothing is sent.
    holdout: float = Field(0.1, ge=0, lt=1)
    #: entries before this time are ignored (a new scenario does not replay all history).
    start: dt.datetime | None = None
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("a scenario name uses letters, digits, _ . -")
        return v

    def step_ids(self) -> list[str]:
        return [s.id or f"step{i + 1}" for i, s in enumerate(self.steps)]

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.step_ids())

    def index(self, step_id: str) -> int:
        return self.ids.index(step_id)

    def event_names(self) -> set[str]:
        """Event names the engine must look at while customers are in this scenario."""
        names = {c.event for c in self.exit}
        if self.goal:
            names.add(self.goal.event.event)
        for s in self.steps:
            if s.wait is not None and s.wait.until is not None:
                names.add(s.wait.until.event)
            if s.split is not None and s.split.condition.event is not None:
                names.add(s.split.condition.event.event)
            if s.action is not None and s.action.kind == "loyalty":
                names.update({"loyalty_points"})
        return names


def _semantic_errors(sc: Scenario) -> list[tuple[tuple, str]]:
    errs: list[tuple[tuple, str]] = []
    ids = sc.step_ids()
    seen: set[str] = set()
    for i, sid in enumerate(ids):
        if sid in seen:
            errs.append((("steps", i, "id"), f"duplicate step id {sid!r}"))
        seen.add(sid)
    known = ", ".join(ids)

    def ref(loc, target):
        if target is not None and target not in seen:
            errs.append((loc, f"unknown step {target!r} (steps: {known})"))

    for i, s in enumerate(sc.steps):
        ref(("steps", i, "goto"), s.goto)
        if s.split is not None:
            ref(("steps", i, "split", "then"), s.split.then)
            ref(("steps", i, "split", "else"), s.split.else_)
        for j, v in enumerate(s.random or []):
            ref(("steps", i, "random", j, "goto"), v.goto)
        if s.random is not None:
            names = [v.name for v in s.random]
            if len(set(names)) != len(names) or len(names) < 2:
                errs.append((("steps", i, "random"), "a random split needs two or more variants with distinct names"))
            if {"holdout", "control"} & set(names):
                errs.append((("steps", i, "random"), "holdout and control are reserved variant names"))
    return errs


def parse_scenario(text: str, source: str = "scenario.yaml") -> Scenario:
    """Validate one scenario given as YAML text; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"{source}:{mark.line + 1 if mark else 1}: YAML syntax error: {exc.problem or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: (top level): a scenario must be a mapping with name, entry and steps")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        located = [(*_locate(root, tuple(e["loc"])), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        relevant = [(ln, p, msg) for ln, p, ok, msg in located if ok] or [(ln, p, m) for ln, p, _, m in located]
        raise _fail(source, relevant) from None
    sem = _semantic_errors(sc)
    if sem:
        raise _fail(source, [(*_locate(root, loc)[:2], msg) for loc, msg in sem])
    return sc


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario {path}: {exc.strerror or exc}") from None
    return parse_scenario(text, source=str(path))


def load_scenarios(workspace: str | Path) -> list[Scenario]:
    """Every ``scenarios/*.yaml`` of a workspace, in file-name order; names must be unique."""
    folder = Path(workspace) / "scenarios"
    out: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        sc = load_scenario(path)
        if sc.name in seen:
            raise ConfigError(f"{path}:1: name: scenario {sc.name!r} is already declared in {seen[sc.name]}")
        seen[sc.name] = path
        out.append(sc)
    return out


def find_scenario(scenarios: list[Scenario], name: str) -> Scenario:
    for sc in scenarios:
        if sc.name == name:
            return sc
    known = ", ".join(s.name for s in scenarios) or "none"
    raise ConfigError(f"unknown scenario {name!r}; scenarios in this workspace: {known}")


# -- built-in templates -----------------------------------------------------------------
def _templates_dir():
    return resources.files("parcours.act") / "templates"


def list_templates() -> list[str]:
    return sorted(p.name[:-5] for p in _templates_dir().iterdir() if p.name.endswith(".yaml"))


def template_text(name: str) -> str:
    if name not in list_templates():
        raise ConfigError(f"unknown scenario template {name!r}; available: {', '.join(list_templates())}")
    return (_templates_dir() / f"{name}.yaml").read_text(encoding="utf-8")


def add_template(workspace: str | Path, name: str, overwrite: bool = False) -> Path:
    """Copy a built-in scenario into ``scenarios/`` of the workspace, to be edited there."""
    text = template_text(name)
    parse_scenario(text, source=f"{name}.yaml")
    target = Path(workspace) / "scenarios" / f"{name}.yaml"
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


__all__ = ["Scenario", "StepSpec", "Action", "Entry", "Goal", "Wait", "Split", "Variant", "Condition",
           "EventCond", "Message", "parse_scenario", "load_scenario", "load_scenarios", "find_scenario",
           "list_templates", "template_text", "add_template", "duration", "clock_range", "CHANNELS"]
