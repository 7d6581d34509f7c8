"""Checks across files that one scenario alone cannot make: stages named by entries exist in
journey.yaml, channels used by actions are configured in act.yaml, segments are saved."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .scenario import Scenario, load_scenarios
from .settings import Settings, load_settings


def problems(workspace: str | Path, scenarios: list[Scenario] | None = None,
             settings: Settings | None = None, segments: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(errors, warnings): an error stops a run from making sense; a warning leaves messages waiting."""
    workspace = Path(workspace)
    scenarios = load_scenarios(workspace) if scenarios is None else scenarios
    settings = load_settings(workspace) if settings is None else settings
    errors, warnings = [], []
    stages = None
    if (workspace / "journey.yaml").exists():
        from ..journey.model import load_model

        stages = load_model(workspace / "journey.yaml").stage_ids
    for sc in scenarios:
        where = f"scenarios: {sc.name}"
        if sc.entry.stage and stages is not None:
            (_, stage), = sc.entry.stage.items()
            if stage not in stages:
                errors.append(f"{where}: entry.stage: unknown stage {stage!r} (journey.yaml stages: {', '.join(stages)})")
        if sc.entry.segment and segments is not None and sc.entry.segment["enter"] not in segments:
            warnings.append(f"{where}: entry.segment: no saved segment {sc.entry.segment['enter']!r} yet")
        for sid, step in zip(sc.ids, sc.steps):
            a = step.action
            if a is None:
                continue
            hook = a.channel if a.kind == "webhook" else a.channel_name
            if hook == "email" and settings.smtp is None:
                warnings.append(f"{where}: steps.{sid}: e-mails wait in the outbox: act.yaml has no smtp")
            elif hook not in (None, "email") and hook not in settings.channels:
                warnings.append(f"{where}: steps.{sid}: messages on {hook!r} wait in the outbox: "
                                f"act.yaml channels has no {hook!r}")
    return errors, warnings


def check(workspace: str | Path, segments: set[str] | None = None) -> tuple[list[Scenario], list[str]]:
    """The scenarios and the warnings; raises ConfigError listing every error."""
    scenarios = load_scenarios(workspace)
    errors, warnings = problems(workspace, scenarios, segments=segments)
    if errors:
        raise ConfigError("\n".join(errors))
    return scenarios, warnings


__all__ = ["problems", "check"]
