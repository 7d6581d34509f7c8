"""The journey model: what ``journey.yaml`` declares, validated with line numbers.

A company describes its journey once (stages, rules that put events in stages, the designed
path, personas, blueprint lanes) and every analysis reads it from here. Errors name the file,
the line and the field, because the people editing ``journey.yaml`` are analysts, not
programmers: ``journey.yaml:23: stages[2].kpis[0].target: Input should be a valid number``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

DEFAULT_TEMPLATE = "cinq-etapes"
LANGS = ("fr", "en")

Scalar = Union[str, int, float, bool]
#: one name, or a list of names, any of which matches.
Names = Union[str, list[str]]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt field silently ignored is a wrong analysis."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Text(_Strict):
    """Text shown to people, in both languages of the product."""

    fr: str
    en: str

    def get(self, lang: str = "fr") -> str:
        return self.en if lang == "en" else self.fr


class Kpi(_Strict):
    id: str
    labels: Text
    metric: str
    target: float
    direction: Literal["higher", "lower"] = "higher"


class Emotion(_Strict):
    """The emotion the stage is designed to produce, compared later with measured feedback."""

    score: float = Field(ge=-1, le=1)
    label: Text


class Blueprint(_Strict):
    """Service-blueprint lanes behind a stage (what the customer sees, and what makes it work)."""

    frontstage: list[str] = []
    backstage: list[str] = []
    support_processes: list[str] = []
    systems: list[str] = []


class Stage(_Strict):
    id: str = Field(min_length=1)
    labels: Text
    status: str = ""
    objective: Text | None = None
    touchpoints: list[str] = []
    content: list[str] = []
    kpis: list[Kpi] = []
    emotion: Emotion | None = None
    moments_of_truth: list[str] = []
    backstage: Blueprint = Blueprint()
    actions: list[Text] = []


def _as_list(v: Names | None) -> tuple[str, ...] | None:
    if v is None:
        return None
    return (v,) if isinstance(v, str) else tuple(v)


def property_text(v: Any) -> str | None:
    """The text form a property value is compared on, the same as DuckDB's ``json_extract_string``."""
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Rule(_Strict):
    """Puts an event in a stage when every condition given holds (absent ones match anything)."""

    stage: str
    event: Names | None = None
    channel: Names | None = None
    touchpoint: Names | None = None
    properties: dict[str, Union[Scalar, list[Scalar]]] | None = None

    @property
    def events(self) -> tuple[str, ...] | None:
        return _as_list(self.event)

    @property
    def channels(self) -> tuple[str, ...] | None:
        return _as_list(self.channel)

    @property
    def touchpoints(self) -> tuple[str, ...] | None:
        return _as_list(self.touchpoint)

    @property
    def property_values(self) -> dict[str, tuple[str, ...]]:
        """Each property's accepted values in the text form they are compared on."""
        out = {}
        for k, v in (self.properties or {}).items():
            vals = v if isinstance(v, list) else [v]
            out[k] = tuple(property_text(x) for x in vals)
        return out

    def matches(self, event: dict) -> bool:
        for names, key in ((self.events, "event"), (self.channels, "channel"),
                           (self.touchpoints, "touchpoint")):
            if names is not None and event.get(key) not in names:
                return False
        if self.properties:
            props = event.get("properties") or {}
            if isinstance(props, str):
                props = json.loads(props)
            if not isinstance(props, dict):
                return False
            for k, accepted in self.property_values.items():
                if property_text(props.get(k)) not in accepted:
                    return False
        return True


class Move(_Strict):
    from_: str = Field(alias="from")
    to: str


class DesignedPath(_Strict):
    """The order the journey is designed in; moves are classified against it."""

    order: list[str] = []
    allowed_moves: list[Move] = []


class Persona(_Strict):
    id: str
    labels: Text
    description: Text | None = None
    segment: dict[str, Union[Scalar, list[Scalar]]] = {}


class JourneyModel(_Strict):
    name: str
    labels: Text | None = None
    stages: list[Stage]
    rules: list[Rule] = []
    path: DesignedPath = DesignedPath()
    personas: list[Persona] = []
    conversion_window: str = "14d"

    @field_validator("conversion_window")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.match(v):
            raise ValueError("expected a duration such as 30m, 12h, 14d or 2w")
        return v

    # -- lookups ------------------------------------------------------------------------
    @cached_property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def stage_index(self, stage_id: str) -> int:
        try:
            return self.stage_ids.index(stage_id)
        except ValueError:
            raise ConfigError(
                f"unknown stage {stage_id!r}; stages are: {', '.join(self.stage_ids)}"
            ) from None

    def stage(self, stage_id: str) -> Stage:
        return self.stages[self.stage_index(stage_id)]

    def label(self, stage_id: str, lang: str = "fr") -> str:
        return self.stage(stage_id).labels.get(lang)

    @property
    def window(self) -> dt.timedelta:
        n, unit = _DURATION.match(self.conversion_window).groups()
        return dt.timedelta(seconds=int(n) * _UNIT_SECONDS[unit])

    def match_rule(self, event: dict) -> str | None:
        """The stage of the first rule, in file order, that matches ``event`` (a dict with
        event, channel, touchpoint, properties), or None."""
        for rule in self.rules:
            if rule.matches(event):
                return rule.stage
        return None

    # -- designed path ------------------------------------------------------------------
    @cached_property
    def path_order(self) -> list[str]:
        """The designed order: ``path.order`` when given, else the stages' order."""
        return list(self.path.order) or self.stage_ids

    def rank(self, stage_id: str) -> int:
        return self.path_order.index(stage_id)

    def move_kind(self, from_id: str | None, to_id: str) -> str:
        """start, forward (next in the designed order), allowed (listed in
        ``path.allowed_moves``), skip (forward past stages) or backward."""
        if from_id is None:
            return "start"
        step = self.rank(to_id) - self.rank(from_id)
        if step == 1:
            return "forward"
        if any(m.from_ == from_id and m.to == to_id for m in self.path.allowed_moves):
            return "allowed"
        return "skip" if step > 1 else "backward"

    def fingerprint(self) -> str:
        """What stage assignment depends on: a change here forces a full rebuild."""
        part = self.model_dump(include={"stages": {"__all__": {"id"}}, "rules": True, "path": True},
                               by_alias=True)
        return json.dumps(part, sort_keys=True)


# -- loading ----------------------------------------------------------------------------
def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _key_node(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == key:
                return k
    return None


_SCALAR_TAGS = {"str", "int", "float", "bool"}


def _locate(root: yaml.Node | None, loc: tuple) -> tuple[int, str, bool]:
    """Line (1-based), readable field path and relevance of a pydantic/semantic location.

    Walks the YAML node tree along ``loc``. Pydantic adds a segment per union member
    ('str', 'list[str]'): it is skipped, and the error is irrelevant when that member is not
    the kind of node written (a list is not reported as "not a valid string"). A missing
    field keeps its name and the line of the mapping that lacks it; an extra key points at
    the key itself.
    """
    node, line, parts, relevant = root, (root.start_mark.line + 1 if root else 1), [], True
    for seg in loc:
        child = _child(node, seg)
        if child is None:
            if _is_type_tag(seg):
                kind = "dict" if isinstance(node, yaml.MappingNode) else (
                    "list" if isinstance(node, yaml.SequenceNode) else "scalar")
                if kind != _tag_kind(seg):
                    relevant = False
                continue
            if isinstance(node, yaml.MappingNode) and isinstance(seg, str):
                key = _key_node(node, seg)
                parts.append(seg)
                if key is not None:
                    line = key.start_mark.line + 1
            break
        parts.append(f"[{seg}]" if isinstance(seg, int) else seg)
        node, line = child, child.start_mark.line + 1
    return line, _dotted(parts), relevant


def _is_type_tag(seg: Any) -> bool:
    return isinstance(seg, str) and (seg in _SCALAR_TAGS or "[" in seg)


def _tag_kind(tag: str) -> str:
    return "list" if tag.startswith("list[") else "dict" if tag.startswith("dict[") else "scalar"


def _dotted(parts: list[str]) -> str:
    return "".join(p if p.startswith("[") else f".{p}" for p in parts).lstrip(".") or "(top level)"


def _fail(source: str, errors: list[tuple[int, str, str]]) -> ConfigError:
    lines = [f"{source}:{line}: {path}: {msg}" for line, path, msg in sorted(set(errors))]
    return ConfigError("\n".join(lines))


def _semantic_errors(m: JourneyModel) -> list[tuple[tuple, str]]:
    """Cross-field checks pydantic cannot express: references between stages, rules and path."""
    errs: list[tuple[tuple, str]] = []
    ids = set()
    for i, s in enumerate(m.stages):
        if s.id in ids:
            errs.append((("stages", i, "id"), f"duplicate stage id {s.id!r}"))
        ids.add(s.id)
    known = ", ".join(dict.fromkeys(s.id for s in m.stages))

    def check(loc: tuple, stage: str) -> None:
        if stage not in ids:
            errs.append((loc, f"unknown stage {stage!r} (stages: {known})"))

    for i, r in enumerate(m.rules):
        check(("rules", i, "stage"), r.stage)
    for i, sid in enumerate(m.path.order):
        check(("path", "order", i), sid)
    if m.path.order:
        if len(set(m.path.order)) != len(m.path.order):
            errs.append((("path", "order"), "a stage appears twice in the designed order"))
        missing = [s for s in dict.fromkeys(s.id for s in m.stages) if s not in m.path.order]
        if missing:
            errs.append((("path", "order"), f"stages missing from the order: {', '.join(missing)}"))
    for i, mv in enumerate(m.path.allowed_moves):
        check(("path", "allowed_moves", i, "from"), mv.from_)
        check(("path", "allowed_moves", i, "to"), mv.to)
    for name, items in (("personas", m.personas),):
        seen = set()
        for i, item in enumerate(items):
            if item.id in seen:
                errs.append(((name, i, "id"), f"duplicate id {item.id!r}"))
            seen.add(item.id)
    for i, s in enumerate(m.stages):
        seen = set()
        for j, k in enumerate(s.kpis):
            if k.id in seen:
                errs.append((("stages", i, "kpis", j, "id"), f"duplicate KPI id {k.id!r}"))
            seen.add(k.id)
    return errs


def parse_model(text: str, source: str = "journey.yaml") -> JourneyModel:
    """Validate a journey model given as YAML text; ``source`` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{source}:{line}: YAML syntax error: {exc.problem or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: (top level): a journey model must be a mapping with name and stages")
    if not data.get("stages") and "stages" in data:
        line, path, _ = _locate(root, ("stages",))
        raise ConfigError(f"{source}:{line}: {path}: a journey needs at least one stage")
    try:
        model = JourneyModel.model_validate(data)
    except ValidationError as exc:
        located = [(*_locate(root, tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        relevant = [(ln, p, msg) for ln, p, ok, msg in located if ok]
        if not relevant:  # no union member fits the kind of value written: say what does
            kinds = {}
            for ln, p, _, msg in located:
                kinds.setdefault((ln, p), []).append(msg.removeprefix("Input should be "))
            relevant = [(ln, p, "Input should be " + " or ".join(dict.fromkeys(m)))
                        for (ln, p), m in kinds.items()]
        raise _fail(source, relevant) from None
    sem = _semantic_errors(model)
    if sem:
        raise _fail(source, [(*_locate(root, loc)[:2], msg) for loc, msg in sem])
    return model


def load_model(path: str | Path) -> JourneyModel:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the journey model {path}: {exc.strerror or exc}") from None
    return parse_model(text, source=str(path))


# -- built-in templates -----------------------------------------------------------------
def _templates_dir():
    return resources.files("parcours.journey") / "templates"


def list_templates() -> list[str]:
    return sorted(p.name[:-5] for p in _templates_dir().iterdir() if p.name.endswith(".yaml"))


def template_path(name: str) -> Path:
    available = list_templates()
    if name not in available:
        raise ConfigError(
            f"unknown journey template {name!r}; available templates: {', '.join(available)}"
        )
    return Path(str(_templates_dir() / f"{name}.yaml"))


def template_text(name: str) -> str:
    return template_path(name).read_text(encoding="utf-8")


def load_template(name: str = DEFAULT_TEMPLATE) -> JourneyModel:
    return parse_model(template_text(name), source=f"{name}.yaml")


__all__ = [
    "DEFAULT_TEMPLATE", "JourneyModel", "Stage", "Kpi", "Emotion", "Blueprint", "Rule", "Move",
    "DesignedPath", "Persona", "Text", "parse_model", "load_model", "list_templates",
    "template_path", "template_text", "load_template", "property_text",
]
