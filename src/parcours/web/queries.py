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


class Scoped(Params):
    segment: Text | None = Field(None, description="Only the persons of this saved segment (parcours segment add).")


class Range(Scoped):
    since: Time | None = Field(None, description="Only events on or after this time (ISO 8601).")
    until: Time | None = Field(None, description="Only events before this time (ISO 8601).")


@dataclass(frozen=True)
class Analysis:
    """``target`` is ``"module:function"`` (imported on first use) or a callable
    ``(store, workspace, params) -> result``. With a name, the parameters the client gave are
    passed as keyword arguments (the others keep the function's defaults, which the params
    model repeats for the schema) and ``model=True`` passes the journey model second. A
    ``segment`` parameter runs the analysis inside that saved segment's scope."""

    name: str
    target: str | Callable
    params: type[Params]
    summary: str
    model: bool = False

    def run(self, store, workspace, params: Params):
        from ..analysis.segments import segment_scope

        with segment_scope(store, getattr(params, "segment", None)):
            if callable(self.target):
                return self.target(store, workspace, params)
            args = (store, workspace.model) if self.model else (store,)
            return self.function(*args, **params.model_dump(exclude_unset=True, exclude={"segment"}))

    @property
    def function(self) -> Callable:
        module, fn = self.target.split(":")
        return getattr(importlib.import_module(module), fn)


REGISTRY: dict[str, Analysis] = {}


def register(name: str, target, params: type[Params], summary: str, model: bool = False) -> None:
    REGISTRY[name] = Analysis(name, target, params, summary, model)


# -- parameters of each analysis ---------------------------------------------------------------


class FunnelSteps(Range):
    """What every funnel question shares: the steps and how an attempt goes through them."""

    step: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20,
        description="A step, repeated in order: NAME or NAME[channel=..,touchpoint=..,properties.KEY=..].")
    window: Duration = "14d"
    order: Literal["ordered", "strict", "unordered"] = "ordered"
    exclude: list[Annotated[str, Field(pattern=r"^.{1,200}:[0-9]{1,3}:[0-9]{1,3}$")]] = Field(
        default_factory=list, max_length=20, description="NAME:FROM:TO, steps numbered from 0.")
    per: Literal["customer", "account"] = "customer"
    stages: bool = Field(False, description="Use the journey model's stages as the steps.")


class FunnelParams(FunnelSteps):
    by: Text | None = Field(None, description="channel, touchpoint, or attributes.NAME.")
    attribution: str = Field("first_touch", pattern=r"^(first_touch|last_touch|step:[0-9]{1,3})$",
                             description="first_touch, last_touch or step:N.")


class FunnelTrendsParams(FunnelSteps):
    period: Literal["day", "week", "month"] = Field("week", description="Customers grouped by when they entered.")


class FunnelPeopleParams(FunnelSteps):
    at: int = Field(0, ge=0, le=19, description="The step (from 0) the customers reached.")
    dropped: bool = Field(False, description="Only those whose furthest step is `at` (they dropped after it).")
    limit: int = Field(1000, ge=0, le=100_000, description="At most this many customers (by id); `total` counts all.")


def _funnel_call(fn: str, **extra: str) -> Callable:
    """A registry target calling ``parcours.analysis.funnel.<fn>`` with the shared funnel
    parameters, and ``extra`` (the function's argument: the parameter's name)."""

    def run(store, workspace, p: FunnelSteps):
        from ..analysis import funnel
        from ..analysis._common import steps_from_text

        return getattr(funnel, fn)(
            store, steps_from_text(p.step, workspace.model, p.stages), window=p.window, order=p.order,
            exclude=p.exclude, per=p.per, since=p.since, until=p.until, stages=p.stages,
            **{arg: getattr(p, name) for arg, name in extra.items()})

    return run


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
    period: Literal["day", "week", "month"] = "day"
    periods: int = Field(12, ge=1, le=366)
    retention_type: Literal["first_time", "recurring"] = "first_time"
    purchase_event: Text = "purchase"
    per: Literal["customer", "account"] = "customer"


class KpisParams(Range):
    by: Text | None = Field(None, description="channel (first touch) or attributes.NAME.")
    conversion_window: Duration | None = Field(None, description="Default: journey.yaml's.")
    lang: Literal["fr", "en"] = "en"


class AttributionParams(Scoped):
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

    return cac(store, **{**p.model_dump(exclude={"segment"}), "by": None if p.by == "none" else p.by})


class ClvParams(Scoped):
    purchase_event: Text = "purchase"
    calibration_end: Time | None = Field(None, description="Default: the last event of any kind.")
    unit: Literal["day", "week"] = "week"
    horizon: int = Field(52, ge=1, le=3650)
    margin: float = Field(1.0, ge=0.0, le=1e6)
    discount_rate: float | None = Field(None, gt=-1.0, le=10.0)


class FeedbackParams(Range):
    by: Text | None = Field(None, description="stage, touchpoint, channel, kind, segments or attributes.NAME.")
    period: Literal["day", "week", "month"] | None = None


class EmotionParams(Range):
    by: Literal["stage", "touchpoint"] = "stage"


Conversions = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                        Field(min_length=1, max_length=10, description="Conversion events, repeated.")]


class PainPointsParams(Range):
    conversions: Conversions = ["purchase", "repeat_purchase"]
    segment_attribute: Text = "segment"
    fdr: float = Field(0.01, gt=0.0, lt=1.0)
    verbatims: int = Field(3, ge=0, le=20)


class MomentsParams(Range):
    outcome: Literal["conversion", "retention", "satisfaction"] = "conversion"
    conversions: Conversions = ["purchase", "repeat_purchase"]
    min_exposed: int = Field(30, ge=1, le=10**9)
    fdr: float = Field(0.05, gt=0.0, lt=1.0)


class MapParams(Params):
    lang: Literal["fr", "en"] = "fr"
    persona: Text | None = None
    scope: Text | None = Field(None, description="Name of a saved segment the map is drawn for.")


register("funnel", _funnel_call("funnel", by="by", attribution="attribution"), FunnelParams,
         "Conversion through ordered steps, time to convert, breakdowns.")
register("funnel_trends", _funnel_call("funnel_trends", period="period"), FunnelTrendsParams,
         "The funnel of the customers who entered in each day, week or month.")
register("funnel_people", _funnel_call("funnel_people", step="at", dropped="dropped", limit="limit"),
         FunnelPeopleParams, "The customers who reached a step of the funnel, or dropped after it.")
register("paths", "parcours.analysis.paths:paths", PathsParams, "Transitions, path variants, step matrix, loops.")
register("retention", "parcours.analysis.retention:retention", RetentionParams,
         "Cohort retention, lifecycle, repeat-purchase rate.")
register("kpis", "parcours.analysis.kpis:stage_kpis", KpisParams,
         "Success indicators per stage of the journey model, against their targets.", model=True)
register("attribution", "parcours.analysis.attribution:attribution", AttributionParams,
         "Conversions credited to channels, touchpoints or campaigns (Markov and heuristic models).")
register("cac", _cac, CacParams, "Customer acquisition cost per period, by channel or campaign.")
register("clv", "parcours.analysis.clv:clv", ClvParams, "Historical and predictive customer lifetime value.")
register("feedback", "parcours.analysis.feedback:feedback", FeedbackParams,
         "NPS (with its confidence interval), CSAT, CES and counts, overall, per group and per period.")
register("emotions", "parcours.analysis.feedback:emotion_by", EmotionParams,
         "An emotion score in [-1, 1] per stage or touchpoint (the journey map's curve).")
register("painpoints", "parcours.analysis.painpoints:painpoints", PainPointsParams,
         "Frictions found in the data, each with its evidence.")
register("moments", "parcours.analysis.moments:moments_of_truth", MomentsParams,
         "Moments of truth: touchpoints by adjusted effect on conversion.")
register("segments", "parcours.analysis.segments:list_segments", Params, "The saved segments and their sizes.")
register("map", "parcours.render.map_data:journey_map", MapParams,
         "The journey map: lanes per stage, designed and lived path, emotions, pain points.", model=True)


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
