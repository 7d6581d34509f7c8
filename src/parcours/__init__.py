"""parcours: customer-journey analytics.

>>> import parcours
>>> ws = parcours.init("shop")            # doctest: +SKIP
>>> ws.import_events("events.csv")         # doctest: +SKIP
>>> ws.journey("c-42").to_frame()          # doctest: +SKIP
"""

from __future__ import annotations

from .errors import ActionError, AnalysisError, ConfigError, DataError, ParcoursError

__version__ = "0.1.0"


def open(path, read_only: bool = False):  # noqa: A001 - mirrors the built-in on purpose
    """Open an existing workspace folder."""
    from .workspace import Workspace

    return Workspace.open(path, read_only=read_only)


def init(path, template: str = "cinq-etapes", exist_ok: bool = False):
    """Create a workspace folder with an empty store and a journey model from a template."""
    from .workspace import Workspace

    return Workspace.init(path, template=template, exist_ok=exist_ok)


__all__ = [
    "open",
    "init",
    "ParcoursError",
    "ConfigError",
    "DataError",
    "AnalysisError",
    "ActionError",
    "__version__",
]
