"""Who may call what: write keys ingest, read keys query; no key 401, the wrong kind 403.

Ingestion takes the write key as Segment's libraries send it (HTTP Basic, the key as user name
and no password) or as a Bearer token; the query API takes a read key as a Bearer token.
"""

from __future__ import annotations

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from .errors import ApiError

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer pc_r_...` or `pc_w_...`.")
basic = HTTPBasic(auto_error=False, description="Segment style: the write key as user name, empty password.")

UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer, Basic realm="parcours"'}


async def _kind(request: Request, key: str) -> str | None:
    server = request.app.state.server
    hit = server.keys.peek(key)
    if hit is not server.keys.MISSING:
        return hit
    # first sight of this key: scrypt takes tens of milliseconds, keep it off the event loop
    return await anyio.to_thread.run_sync(server.keys.kind_of, key, server.fetch)


async def _require(request: Request, key: str | None, kind: str) -> None:
    if not key:
        raise ApiError(401, f"an API key is required: send a {kind} key", headers=UNAUTHENTICATED)
    found = await _kind(request, key)
    if found is None:
        raise ApiError(401, "unknown or revoked API key", headers=UNAUTHENTICATED)
    if found != kind:
        raise ApiError(403, f"a {found} key cannot be used here: this endpoint needs a {kind} key")


async def write_key(request: Request,
                    token: HTTPAuthorizationCredentials | None = Depends(bearer),
                    user: HTTPBasicCredentials | None = Depends(basic)) -> None:
    """A write key, as Basic user name (Segment) or Bearer token."""
    await _require(request, token.credentials if token else (user.username if user else None), "write")


async def read_key(request: Request, token: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """A read key as Bearer token, or (for the dashboard's own fetches) a logged-in session."""
    if token is None and request.method == "GET":
        from .sessions import current

        if current(request) is not None:
            return
    await _require(request, token.credentials if token else None, "read")


__all__ = ["write_key", "read_key"]
