"""Shared by the dashboard tests: log in through the real form, read the CSRF token of a page."""

from __future__ import annotations

import contextlib
import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


def login(client: httpx.Client, name: str, password: str, next: str = "/app/overview") -> httpx.Response:
    """GET the login form (sets the double-submit cookie), then POST it."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name, "password": password, "next": next})


@contextlib.contextmanager
def session_client(server, name: str, password: str):
    """A client logged in as ``name``, closed at the end of the block."""
    with server.client() as client:
        r = login(client, name, password)
        assert r.status_code == 303, r.text
        yield client
