"""HTTP errors: one JSON shape for all of them, and the ParcoursError tree mapped to statuses.

Every error body is ``{"detail": message}``, plus ``field`` (the JSON field at fault) or
``errors`` (one entry per bad message of a batch) when there is one. The status of each
ParcoursError kind lives in ``errors.py`` at the package's root; this module only applies it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..errors import ParcoursError


class FieldError(BaseModel):
    index: int | None = None
    field: str | None = None
    reason: str


class ErrorBody(BaseModel):
    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None


class ApiError(Exception):
    """An error answered as it is: status, message, optional field and headers."""

    def __init__(self, status: int, detail: str, *, field: str | None = None,
                 errors: list[dict] | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.errors, self.headers = status, detail, field, errors, headers

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def responses(*statuses: int) -> dict:
    """The documented error responses of a route, for the OpenAPI schema."""
    return {s: {"model": ErrorBody} for s in statuses}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ParcoursError)
    async def _parcours_error(request: Request, exc: ParcoursError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)


__all__ = ["ApiError", "ErrorBody", "FieldError", "responses", "install"]
