"""The query API: every registered analysis as ``GET /api/v1/{name}``, plus customer timelines.

One registry maps a name to the analysis function and a pydantic model of its query
parameters; a route is generated for each, so the OpenAPI schema documents every parameter
and adding an analysis is one ``register(...)`` line. The answer is the result's
``to_dict()``, the same JSON as ``parcours NAME --json``. Analyses run in a small thread pool,
each thread on its own connection to the store, so a long query never blocks ingestion.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .auth import read_key
from .errors import ApiError, responses

router = APIRouter()

Text = Annotated[str, Field(min_length=1, max_length=200)]
Duration = Annotated[str, Field(pattern=r"^[0-9]{1,6}(\.[0-9]{1,6})?[smhdw]$",  # 999999w fits in int64 µs
                                description="A duration: a number and a unit s, m, h, d or w (14d, 2h, 30m).")]
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?")


def _iso_only(value):
    """ISO 8601 text only: pydantic would also read ``0.5`` as a Unix time, which nobody means."""
    if isinstance(value, str) and not _ISO.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2024-03-01 or 2024-03-01T08:00:00Z")
    return value


Time = Annotated[dt.datetime, BeforeValidator(_iso_only), WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]})]


class Params(BaseModel):
    """Query parameters: unknown ones are refused (422), so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid")


class Range(Params):
    since: Time | None = Field(None, description="Only events on or after this time (ISO 8601).")
    until: Time | None = Field(None, description="Only events before this time (ISO 8601).")


@dataclass(frozen=True)
class Analysis:
    """``target`` is ``"module:function"`` (imported on first use) or a callable
    ``(store, workspace, params) -> result``; with a name, the params' fields are the
    function's keyword arguments and ``model=True`` passes the journey model second."""

    name: str
    target: str | Callable
    params: type[Params]
    summary: str
    model: bool = False

    def run(self, store, workspace, params: Params):
        if callable(self.target):
            return self.target(store, workspace, params)
        module, fn = self.target.split(":")
        function = getattr(importlib.import_module(module), fn)
        args = (store, workspace.model) if self.model else (store,)
        return function(*args, **params.model_dump())


REGISTRY: dict[str, Analysis] = {}


def register(name: str, target, params: type[Params], summary: str, model: bool = False) -> None:
    REGISTRY[name] = Analysis(name, target, params, summary, model)


# -- parameters of each analysis ---------------------------------------------------------------


class FunnelParams(Range):
    step: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20,
        description="A step, repeated in order: NAME or NAME[channel=..,touchpoint=..,properties.KEY=..].")
    window: Duration = "14d"
    order: Literal["ordered", "strict", "unordered"] = "ordered"
    exclude: list[Annotated[str, Field(pattern=r"^.{1,200}:[0-9]{1,3}:[0-9]{1,3}$")]] = Field(
        default_factory=list, max_length=20, description="NAME:FROM:TO, steps numbered from 0.")
    per: Literal["customer", "account"] = "customer"
    by: Text | None = Field(None, description="channel, touchpoint, or attributes.NAME.")
    attribution: str = Field("first_touch", pattern=r"^(first_touch|last_touch|step:[0-9]{1,3})$",
                             description="first_touch, last_touch or step:N.")
    stages: bool = Field(False, description="Use the journey model's stages as the steps.")


def _funnel(store, workspace, p: FunnelParams):
    from ..analysis.funnel import funnel
    from ..cli import parse_step_text

    steps = [parse_step_text(s) for s in p.step] or (workspace.model.stage_ids if p.stages else [])
    return funnel(store, steps, window=p.window, order=p.order, exclude=p.exclude, per=p.per, by=p.by,
                  since=p.since, until=p.until, stages=p.stages, attribution=p.attribution)


class PathsParams(Range):
    by: Literal["event", "stage", "touchpoint", "channel"] = "event"
    start: Text | None = None
    end: Text | None = None
    depth: int | None = Field(None, ge=1, le=100)
    min_share: float = Field(0.0, ge=0.0, le=1.0)
    top: int = Field(20, ge=1, le=1000)
    conversion_event: Text = "purchase"
    per: Literal["customer", "account"] = "customer"


class RetentionParams(Range):
    start_event: Text = "purchase"
    return_event: Text | None = Field(None, description="Default: any event counts as a return.")
    period: Literal["day", "week", "month"] = "week"
    periods: int = Field(12, ge=1, le=366)
    retention_type: Literal["first_time", "recurring"] = "first_time"
    purchase_event: Text = "purchase"
    per: Literal["customer", "account"] = "customer"


class KpisParams(Range):
    by: Text | None = Field(None, description="channel (first touch) or attributes.NAME.")
    conversion_window: Duration | None = Field(None, description="Default: journey.yaml's.")
    lang: Literal["fr", "en"] = "en"


class AttributionParams(Params):
    conversion: Text = "purchase"
    touch: Literal["channel", "touchpoint", "campaign"] = "channel"
    model: Literal["markov", "first", "last", "linear", "time_decay", "position"] = "markov"
    lookback: Duration = "30d"
    order: int = Field(1, ge=1, le=4)
    half_life: Duration = "7d"


class CacParams(Range):
    by: Literal["channel", "campaign", "none"] = Field("channel", description="none: one figure per period.")
    period: Literal["day", "week", "month", "quarter", "year"] = "month"
    new_customer_event: Text = "purchase"


def _cac(store, workspace, p: CacParams):
    from ..analysis.cac import cac

    return cac(store, **{**p.model_dump(), "by": None if p.by == "none" else p.by})


class ClvParams(Params):
    purchase_event: Text = "purchase"
    calibration_end: Time | None = Field(None, description="Default: the last purchase.")
    unit: Literal["day", "week"] = "day"
    horizon: int = Field(52, ge=1, le=3650)
    margin: float = Field(1.0, ge=0.0, le=1e6)
    discount_rate: float | None = Field(None, gt=-1.0, le=10.0)


register("funnel", _funnel, FunnelParams, "Conversion through ordered steps, time to convert, breakdowns.")
register("paths", "parcours.analysis.paths:paths", PathsParams, "Transitions, path variants, step matrix, loops.")
register("retention", "parcours.analysis.retention:retention", RetentionParams,
         "Cohort retention, lifecycle, repeat-purchase rate.")
register("kpis", "parcours.analysis.kpis:stage_kpis", KpisParams,
         "Success indicators per stage of the journey model, against their targets.", model=True)
register("attribution", "parcours.analysis.attribution:attribution", AttributionParams,
         "Conversions credited to channels, touchpoints or campaigns (Markov and heuristic models).")
register("cac", _cac, CacParams, "Customer acquisition cost per period, by channel or campaign.")
register("clv", "parcours.analysis.clv:clv", ClvParams, "Historical and predictive customer lifetime value.")


# -- routes -------------------------------------------------------------------------------------


def _finite(value):
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_result(result) -> JSONResponse:
    return JSONResponse(_finite(result.to_dict()))


async def run_query(request: Request, fn: Callable, *args) -> JSONResponse:
    """``fn(store, workspace, *args)`` on a reader thread; its result as JSON."""
    server = request.app.state.server

    def work():
        store = server.reader()
        if not store.has_table("journey_view"):
            raise ApiError(409, "journeys are not built yet: POST /v1/refresh, or wait for the background refresh")
        return json_result(fn(store, server.workspace, *args))

    return await anyio.to_thread.run_sync(work, limiter=server.query_limiter)


QUERY_ERRORS = responses(400, 401, 403, 409)


def _route(analysis: Analysis):
    async def endpoint(request: Request, params) -> JSONResponse:
        return await run_query(request, analysis.run, params)

    endpoint.__signature__ = inspect.Signature([
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=Annotated[analysis.params, Query()]),
    ])
    endpoint.__name__ = f"query_{analysis.name}"
    return endpoint


def add_analysis_routes(target: APIRouter) -> None:
    for analysis in REGISTRY.values():
        target.add_api_route(
            f"/api/v1/{analysis.name}", _route(analysis), methods=["GET"], tags=["query"],
            summary=analysis.summary, dependencies=[Depends(read_key)], responses=QUERY_ERRORS,
            response_model=dict[str, Any],
        )


@router.get("/api/v1/customers/{customer_id}/timeline", tags=["query"], dependencies=[Depends(read_key)],
            responses=QUERY_ERRORS, response_model=dict[str, Any])
async def customer_timeline(request: Request,
                            customer_id: Annotated[str, Path(min_length=1, max_length=200)],
                            lang: Literal["fr", "en"] = "en") -> JSONResponse:
    """One customer's journey (by customer, anonymous or person id): stages and events."""
    from ..journey.assign import timeline

    return await run_query(request, lambda store, ws: timeline(store, ws.model, customer_id, lang=lang))


@router.get("/api/v1/analyses", tags=["query"], dependencies=[Depends(read_key)],
            responses=responses(401, 403), response_model=dict[str, Any])
async def analyses() -> dict:
    """The analyses this server answers, with their summaries."""
    return {"analyses": [{"name": a.name, "summary": a.summary, "path": f"/api/v1/{a.name}"}
                         for a in REGISTRY.values()]}


__all__ = ["REGISTRY", "Analysis", "Params", "Range", "register", "add_analysis_routes", "run_query"]
