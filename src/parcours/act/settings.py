"""``act.yaml``: where messages go (SMTP, webhooks) and the guards every scenario obeys.

Secrets never live in the file: it names the environment variables that hold them
(``password_env``, ``secret_env``). Every key is optional; a workspace without act.yaml
queues messages in the outbox and delivers nothing until a channel is configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ..journey.model import Text, _fail, _locate
from .scenario import _check_clock_range, _check_duration

SETTINGS_FILE = "act.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Smtp(_Strict):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "parcours <noreply@localhost>"
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout: float = 10.0

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


class Hook(_Strict):
    """A channel delivered by a signed HTTP POST (SMS gateway, push, CRM task queue ...)."""

    url: str
    secret_env: str | None = None
    timeout: float = 10.0

    @property
    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env, "") if self.secret_env else ""
        return value.encode()


class FrequencyCap(_Strict):
    max: int = Field(3, ge=1)
    per: str = "7d"

    @field_validator("per")
    @classmethod
    def _per(cls, v):
        return _check_duration(v)


class Tier(_Strict):
    points: int = Field(gt=0)
    name: str
    reward: Text


DEFAULT_TIERS = (
    Tier(points=100, name="bronze", reward=Text(fr="5 € offerts sur votre prochain achat",
                                                en="€5 off your next purchase")),
    Tier(points=500, name="silver", reward=Text(fr="livraison offerte pendant un an",
                                                en="free delivery for a year")),
    Tier(points=1000, name="gold", reward=Text(fr="un cadeau et un accès en avant-première",
                                               en="a gift and early access")),
)


class Guards(_Strict):
    #: share of all customers (by hash of the id) who never receive anything, in any scenario.
    control_group: float = Field(0.0, ge=0, lt=1)
    frequency_cap: FrequencyCap | None = None
    #: local time range with no messages (e.g. 21:00-08:00); messages wait for its end.
    quiet_hours: str | None = None

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v):
        return v if v is None else _check_clock_range(v)


class Settings(_Strict):
    smtp: Smtp | None = None
    channels: dict[str, Hook] = {}
    guards: Guards = Guards()
    default_timezone: str = "Europe/Paris"
    default_lang: Literal["fr", "en"] = "fr"
    survey_url: str = "https://example.invalid/survey/{message_id}?kind={survey}"
    loyalty_tiers: list[Tier] = list(DEFAULT_TIERS)
    #: customers handled per transaction: smaller commits more often (crash costs less).
    batch_size: int = Field(2000, ge=1)
    max_attempts: int = Field(5, ge=1)

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, v):
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


def load_settings(workspace: str | Path) -> Settings:
    """The workspace's act.yaml (defaults when absent), validated with line numbers."""
    path = Path(workspace) / SETTINGS_FILE
    if not path.exists():
        return Settings()
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: YAML syntax error: {exc.problem or exc}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _fail(str(path), [(*_locate(root, tuple(e["loc"]))[:2], e["msg"].removeprefix("Value error, "))
                                for e in exc.errors()]) from None


__all__ = ["Settings", "Smtp", "Hook", "Guards", "FrequencyCap", "Tier", "load_settings", "SETTINGS_FILE"]
