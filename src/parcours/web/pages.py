"""The dashboard: login, one page per view, Plotly served by the app.

Pages are thin and return at once: each is a Jinja2 template naming the data it shows
(``/app/q/NAME``: the query API's registry, run the same way, answers kept warm); the page's
script fetches them with the session cookie, shows a progress indicator meanwhile and draws
the JSON with Plotly.
The analyses run in the server's query thread pool, so a long one never blocks other requests.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from .errors import ApiError
from .page_labels import WORDS, lang_of, word
from .sessions import COOKIE, LOGIN_CSRF_COOKIE, check_csrf, current, set_cookie
from .users import ROLES, add_user, check_password, list_users

router = APIRouter(include_in_schema=False)
HERE = Path(__file__).parent

#: the navigation, in order: (page, least role that sees it)
NAV = [("overview", "viewer"), ("map", "viewer"), ("funnel", "viewer"), ("paths", "viewer"),
       ("timeline", "viewer"), ("painpoints", "viewer"), ("feedback", "viewer"), ("segments", "viewer"),
       ("attribution", "viewer"), ("value", "viewer"), ("data", "viewer"), ("surveys", "viewer"),
       ("users", "admin")]

FUNNEL_FIELDS = ("window", "order", "by")
#: what a viewer may ask of the funnel: the model's stages, in a saved segment
VIEWER_FUNNEL = {"stages", "segment"}


@lru_cache(maxsize=1)
def templates():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


class LoginNeeded(Exception):
    """Raised by ``need``: the page answers a redirect to the login form."""

    def __init__(self, target: str):
        self.target = target


def need(request: Request, role: str = "viewer"):
    """The request's session, its user having ``role`` or above; else a redirect or 403."""
    session = current(request)
    if session is None:
        raise LoginNeeded(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    if not session.user.can(role):
        raise ApiError(403, f"this needs the {role} role; {session.user.name} is {session.user.role}")
    return session


def render(request: Request, name: str, session=None, status: int = 200, **context) -> HTMLResponse:
    lang = lang_of(request.query_params.get("lang") or request.cookies.get("parcours_lang"))
    words = {k: word(k, lang) for k in WORDS}
    nav = [(p, words[p]) for p, role in NAV if session and session.user.can(role)]
    html = templates().get_template(name).render(
        request=request, session=session, lang=lang, w=words, nav=nav, other="en" if lang == "fr" else "fr",
        csrf=session.csrf if session else "", **context)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in ("fr", "en"):
        set_cookie(response, request, "parcours_lang", lang, max_age=365 * 86400)
    response.headers["Cache-Control"] = "no-store"
    return response


async def form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body (the only kind the pages post)."""
    body = await request.body()
    if len(body) > 64 * 1024:
        raise ApiError(413, "form too large")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


async def posted(request: Request, role: str) -> tuple:
    """(session, form) of a page's POST: the user has ``role`` and the form's CSRF token is the
    session's; every form that changes something goes through here, so none can skip the check."""
    session = need(request, role)
    data = await form(request)
    check_csrf(request, session, first(data, "csrf"))
    return session, data


def first(data: dict, key: str, default: str = "") -> str:
    return (data.get(key) or [default])[0]


def address(request: Request) -> str:
    return request.client.host if request.client else "?"


# -- static files -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _plotly_path() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@router.get("/static/plotly.min.js")
async def plotly_js() -> FileResponse:
    """Plotly's bundle from the installed package: the dashboard works offline."""
    return FileResponse(_plotly_path(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/map.css")
async def map_css() -> Response:
    """The journey map's own CSS (render/html.py), for the embedded map."""
    from ..render.html import CSS

    return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise ApiError(404, "no such file")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


# -- login -------------------------------------------------------------------------------
@router.get("/login")
async def login_form(request: Request, next: str = "/app/overview") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", login_csrf=token, next=_safe_next(next))
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


def _safe_next(target: str) -> str:
    """Only a local path: never a redirect to another site."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/app/overview"


@router.post("/login")
async def login(request: Request) -> Response:
    data = await form(request)
    name, password = first(data, "name").strip(), first(data, "password")
    sent, cookie = first(data, "csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not cookie or not secrets.compare_digest(sent, cookie):
        raise ApiError(403, "missing or wrong CSRF token: reload the login page")
    state = request.app.state
    wait = state.login_limiter.retry_after(name, address(request))
    lang = lang_of(request.cookies.get("parcours_lang"))
    if wait:
        response = render(request, "login.html", login_csrf=cookie, next=_safe_next(first(data, "next")),
                           error=word("too_many", lang, s=wait), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    server = state.server
    user = await anyio.to_thread.run_sync(lambda: check_password(server.reader(), name, password))
    if user is None:
        state.login_limiter.failed(name, address(request))
        return render(request, "login.html", login_csrf=cookie, next=_safe_next(first(data, "next")),
                      error=word("bad_login", lang), status=401)
    state.login_limiter.succeeded(name, address(request))
    token, _ = await anyio.to_thread.run_sync(state.sessions.create, user)
    response = RedirectResponse(_safe_next(first(data, "next")), status_code=303)
    set_cookie(response, request, COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await posted(request, "viewer")
    await anyio.to_thread.run_sync(request.app.state.sessions.drop, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- pages ---------------------------------------------------------------------------------
@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/app/overview", status_code=303)


def _api(path: str, **params) -> str:
    params = {k: v for k, v in params.items() if v not in (None, "", [])}
    return path + ("?" + urlencode(params, doseq=True) if params else "")


def blocks(page: str, request: Request, lang: str, can_build: bool = True) -> list[dict]:
    """What a page shows: each block names its data source and how to draw it."""
    q = request.query_params
    if page == "overview":
        return [{"kind": "kpis", "api": _api("/app/q/kpis", lang=lang)},
                {"kind": "health", "api": _api("/app/q/feedback", period="month")}]
    if page == "map":
        return [{"kind": "html", "api": _api("/app/fragment/map", lang=lang)}]
    if page == "funnel" and not can_build:
        return [{"kind": "funnel", "api": _api("/app/q/funnel", stages="true")}]
    if page == "funnel":
        steps = [s.strip() for s in q.get("steps", "").splitlines() if s.strip()]
        exclude = [s.strip() for s in q.get("exclude", "").splitlines() if s.strip()]
        return [{"kind": "funnel", "api": _api("/app/q/funnel", step=steps, stages="true" if not steps else None,
                                               exclude=exclude, **{k: q.get(k) for k in FUNNEL_FIELDS})}]
    if page == "paths":
        return [{"kind": "paths", "api": _api("/app/q/paths", by=q.get("by", "stage"))}]
    if page == "timeline":
        cid = q.get("customer", "").strip()
        return [{"kind": "timeline", "api": _api(f"/api/v1/customers/{_quote(cid)}/timeline", lang=lang)}] if cid else []
    if page == "painpoints":
        return [{"kind": "painpoints", "api": "/app/q/painpoints"}]
    if page == "feedback":
        return [{"kind": "feedback", "api": _api("/app/q/feedback", period="month")}]
    if page == "segments":
        return [{"kind": "segments", "api": "/app/q/segments"}]
    if page == "attribution":
        return [{"kind": "attribution", "api": _api("/app/q/attribution", model=q.get("model", "markov"))}]
    if page == "value":
        return [{"kind": "cac", "api": "/app/q/cac"}, {"kind": "clv", "api": "/app/q/clv"}]
    if page == "data":
        return [{"kind": "data", "api": "/app/api/data"}]
    return []


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/app/{page}")
async def page(request: Request, page: str) -> Response:
    try:
        role = dict(NAV)[page]
    except KeyError:
        raise ApiError(404, f"no page {page!r}") from None
    session = need(request, role)
    lang = lang_of(request.query_params.get("lang") or request.cookies.get("parcours_lang"))
    extra = {}
    if page == "users":
        extra.update(await anyio.to_thread.run_sync(_admin_lists, request.app.state.server))
    if page == "surveys":
        from .surveys import list_surveys

        extra["surveys"] = await anyio.to_thread.run_sync(lambda: list_surveys(request.app.state.server.reader()))
    return render(request, f"{page}.html" if (HERE / "templates" / f"{page}.html").exists() else "page.html",
                  session, page=page, blocks=blocks(page, request, lang, session.user.can("analyst")), q=request.query_params,
                  **extra)


def _admin_lists(server) -> dict:
    from .keys import list_keys

    store = server.reader()
    return {"users": list_users(store), "roles": ROLES, "keys": list_keys(store)}


@router.post("/app/users")
async def create_user(request: Request) -> Response:
    session, data = await posted(request, "admin")
    server = request.app.state.server
    password, user = await anyio.to_thread.run_sync(
        lambda: add_user(server.reader(), first(data, "name").strip(), first(data, "role")))
    lists = await anyio.to_thread.run_sync(_admin_lists, server)
    return render(request, "users.html", session, page="users", blocks=[], created=(user.name, password),
                  q=request.query_params, **lists)


@router.post("/app/keys")
async def create_or_revoke_key(request: Request) -> Response:
    """Admin: a new API key (shown once on the answer page), or revoke one by id."""
    from .keys import add_key, revoke_key

    session, data = await posted(request, "admin")
    server, created = request.app.state.server, None
    if first(data, "revoke"):
        await anyio.to_thread.run_sync(lambda: revoke_key(server.reader(), first(data, "revoke")))
    else:
        key, record = await anyio.to_thread.run_sync(
            lambda: add_key(server.reader(), first(data, "kind"), first(data, "name").strip()[:100] or None))
        created = (f"{record.kind} {record.key_id}", key)
    lists = await anyio.to_thread.run_sync(_admin_lists, server)
    return render(request, "users.html", session, page="users", blocks=[], created=created,
                  q=request.query_params, **lists)


@router.post("/app/segments")
async def save_segment(request: Request) -> Response:
    session, data = await posted(request, "analyst")
    from ..analysis.segments import save_segment as save

    server = request.app.state.server
    name, definition = first(data, "name").strip(), first(data, "definition").strip()
    await anyio.to_thread.run_sync(lambda: save(server.reader(), name, definition), limiter=server.query_limiter)
    request.app.state.results.local_writes += 1  # the segment list changed
    return RedirectResponse("/app/segments", status_code=303)


# -- data the pages fetch, beside the query API ----------------------------------------------
async def _in_pool(request: Request, work):
    server = request.app.state.server
    return await anyio.to_thread.run_sync(lambda: work(server.reader(), server.workspace),
                                          limiter=server.query_limiter)


@router.get("/app/q/{name}")
async def cached_query(request: Request, name: str) -> Response:
    """An analysis of the query API's registry, run the same way, its answer kept warm
    (``result_cache.py``); parameters as for ``/api/v1/{name}``."""
    session = need(request)
    from pydantic import ValidationError

    from .queries import REGISTRY, run_query

    analysis = REGISTRY.get(name)
    if analysis is None:
        raise ApiError(404, f"no analysis {name!r}")
    lists = {n for n, f in analysis.params.model_fields.items() if "list" in str(f.annotation)}
    values = {k: (request.query_params.getlist(k) if k in lists else request.query_params[k])
              for k in request.query_params.keys()}
    try:
        params = analysis.params.model_validate(values)
    except ValidationError as exc:
        first_error = exc.errors()[0]
        raise ApiError(422, f"{'.'.join(map(str, first_error['loc']))}: {first_error['msg']}") from None
    if name == "funnel" and not session.user.can("analyst") and set(values) - VIEWER_FUNNEL:
        raise ApiError(403, "building a funnel needs the analyst role; viewers see the stage funnel")
    key = (name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())))

    async def compute() -> bytes:
        return (await run_query(request, analysis.run, params)).body

    body = await request.app.state.results.get(key, compute)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/app/fragment/map")
async def map_fragment(request: Request, lang: str = "fr") -> HTMLResponse:
    """The journey map's sections (render/map_html.py), drawn in the query pool, kept warm."""
    need(request)
    from ..render.map_data import journey_map
    from ..render.map_html import map_fragment as fragment

    lang = lang_of(lang)
    html = await request.app.state.results.get(("map", lang), lambda: _in_pool(
        request, lambda store, ws: fragment(journey_map(store, ws.model, lang=lang))))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/app/api/data")
async def data_health(request: Request) -> JSONResponse:
    """Imports, recent rejects and identity counts of the data page."""
    need(request)

    def work(store, ws):
        def rows(sql):
            rel = store.con.execute(sql)
            cols = [d[0] for d in rel.description]
            return [{c: (v.isoformat() if hasattr(v, "isoformat") else v) for c, v in zip(cols, r)}
                    for r in rel.fetchall()]

        return {
            "imports": rows("SELECT import_id, file, kind, format, finished_at, rows, imported, rejected, duplicates "
                            "FROM imports ORDER BY import_id DESC LIMIT 50"),
            "rejects": rows('SELECT import_id, file, "row", "column", reason FROM rejects '
                            "ORDER BY import_id DESC, \"row\" LIMIT 100"),
            "identities": rows("SELECT source, count(*) AS aliases, count(DISTINCT customer_id) AS customers "
                               "FROM identities GROUP BY source ORDER BY aliases DESC"),
        }

    return JSONResponse(await _in_pool(request, work), headers={"Cache-Control": "no-store"})


def install(app) -> None:
    """Redirect a page request without a session to the login form."""

    @app.exception_handler(LoginNeeded)
    async def _login(request: Request, exc: LoginNeeded):
        if request.url.path.startswith(("/app/api/", "/app/fragment/", "/app/q/")):  # data, not pages
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login?" + urlencode({"next": exc.target}), status_code=303)


__all__ = ["router", "install", "need"]
