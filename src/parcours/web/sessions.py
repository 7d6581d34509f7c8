"""Login sessions, CSRF tokens and the login rate limit of the dashboard.

A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS); the
store keeps only its SHA-256, so a copy of the store logs nobody in. Each session carries
its own CSRF token, which every form posts back (``check_csrf``); the login form, before any
session, uses a double-submit cookie. Five failed logins for one user from one address within
five minutes answer 429 until the window has passed.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from .errors import ApiError
from .users import User

COOKIE = "parcours_session"
LOGIN_CSRF_COOKIE = "parcours_login_csrf"
LIFETIME = dt.timedelta(hours=12)

DDL = """CREATE TABLE IF NOT EXISTS sessions (
    token_hash VARCHAR PRIMARY KEY, user_name VARCHAR NOT NULL, role VARCHAR NOT NULL,
    csrf VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)"""


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Sessions:
    """Sessions in the store (they survive a restart), read through a small memory cache.

    ``store`` is called to get a store connection usable from the calling thread.
    """

    def __init__(self, store):
        self._store = store
        self._cache: dict[str, Session] = {}
        self._lock = threading.Lock()

    def ensure_table(self) -> None:
        with self._store().transaction() as con:
            con.execute(DDL)

    def create(self, user: User) -> tuple[str, Session]:
        token, now = secrets.token_urlsafe(32), _now()
        session = Session(user, secrets.token_urlsafe(24), now + LIFETIME)
        with self._store().transaction() as con:
            con.execute("DELETE FROM sessions WHERE expires_at < ?", [now])
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                        [_digest(token), user.name, user.role, session.csrf, now, session.expires_at])
        with self._lock:
            self._cache[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        key = _digest(token)
        with self._lock:
            session = self._cache.get(key)
        if session is None:
            rows = self._store().fetch(
                "SELECT s.user_name, s.role, u.created_at, s.csrf, s.expires_at FROM sessions s "
                "JOIN users u ON u.name = s.user_name AND u.role = s.role WHERE s.token_hash = ?", [key])
            if not rows:
                return None
            name, role, created, csrf, expires = rows[0]
            session = Session(User(name, role, created), csrf, expires)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = session
        return session if session.expires_at > _now() else None

    def drop(self, token: str | None) -> None:
        if not token:
            return
        key = _digest(token)
        with self._lock:
            self._cache.pop(key, None)
        with self._store().transaction() as con:
            con.execute("DELETE FROM sessions WHERE token_hash = ?", [key])


class LoginLimiter:
    """At most ``limit`` failed logins per (user, address) in ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[tuple[str, str], collections.deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key, now) -> collections.deque:
        q = self._failures.setdefault(key, collections.deque())
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def retry_after(self, user: str, address: str) -> int:
        """Seconds to wait before another try is allowed; 0 when allowed now."""
        now = self.clock()
        with self._lock:
            q = self._recent((user, address), now)
            return int(self.window - (now - q[0])) + 1 if len(q) >= self.limit else 0

    def failed(self, user: str, address: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            now = self.clock()
            self._recent((user, address), now).append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user, address), None)


def set_cookie(response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def current(request: Request) -> Session | None:
    """The request's session, or None (checked in memory, or one indexed read)."""
    sessions = getattr(request.app.state, "sessions", None)
    return sessions.get(request.cookies.get(COOKIE)) if sessions else None


def check_csrf(request: Request, session: Session, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise ApiError(403, "missing or wrong CSRF token: reload the page and try again")


__all__ = ["COOKIE", "LoginLimiter", "Session", "Sessions", "check_csrf", "current", "set_cookie"]
