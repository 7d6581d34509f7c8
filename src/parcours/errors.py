"""The exception tree of parcours, and how each kind maps to a CLI exit code and an HTTP status.

::

    ParcoursError                 base of everything parcours raises on purpose
    ├── ConfigError               a workspace, journey.yaml or option is wrong (exit 2, HTTP 400)
    ├── DataError                 input data cannot be read or imported (exit 3, HTTP 422)
    ├── AnalysisError             an analysis cannot be computed with these parameters (exit 4, HTTP 400)
    └── ActionError               an orchestrated action failed (exit 5, HTTP 502)

Callers catch ``ParcoursError`` at the edge (CLI, API); the mapping lives only here.
"""

from __future__ import annotations


class ParcoursError(Exception):
    """Base class: a failure parcours explains to the user."""

    exit_code = 1
    http_status = 500


class ConfigError(ParcoursError):
    """The workspace, the journey model or an option is invalid."""

    exit_code = 2
    http_status = 400


class DataError(ParcoursError):
    """Input data cannot be read or imported (a whole file, not one bad row)."""

    exit_code = 3
    http_status = 422


class AnalysisError(ParcoursError):
    """An analysis cannot be computed with the given parameters."""

    exit_code = 4
    http_status = 400


class ActionError(ParcoursError):
    """An orchestrated action could not be performed."""

    exit_code = 5
    http_status = 502


__all__ = ["ParcoursError", "ConfigError", "DataError", "AnalysisError", "ActionError"]
