"""Mounts the dashboard, logins and surveys on the API app (one call in ``create_app``).

At the first start with no user, creates ``admin`` with a one-time password printed once on
the console (stderr): nobody can reach the pages before someone holds that password.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from . import pages, surveys, users
from .result_cache import ResultCache
from .sessions import LoginLimiter, Sessions


def mount(app: FastAPI, server, announce=None) -> None:
    store = server.workspace.store
    users.ensure_table(store)
    surveys.ensure_table(store)
    app.state.sessions = Sessions(server.reader)
    app.state.sessions.ensure_table()
    app.state.login_limiter = LoginLimiter()
    app.state.results = ResultCache(server, stale_after=server.writer.refresh_interval or 30.0)
    password = users.first_admin(store)
    if password is not None:
        (announce or _announce)(password)
    pages.install(app)
    app.include_router(pages.router)
    app.include_router(surveys.router)


def _announce(password: str) -> None:
    from ..i18n import lang_default

    lang = lang_default()
    text = {"fr": "Premier démarrage : utilisateur admin créé, mot de passe (affiché une seule fois) : ",
            "en": "First start: user admin created, password (shown this once): "}
    print(text.get(lang, text["en"]) + password, file=sys.stderr, flush=True)


__all__ = ["mount"]
