"""Dashboard users over a real server: first admin, login, sessions, CSRF, rate limit, roles."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from parcours.cli import app
from parcours.web.users import add_user, check_password, list_users
from parcours.workspace import Workspace

from .dashboard_support import csrf_of, login, session_client

PW = "correct-horse-battery"


def _users(server, *users):
    with Workspace.open(server.path) as ws:
        for name, role in users:
            add_user(ws.store, name, role, PW)


def test_first_start_prints_a_one_time_admin_password(live):
    server = live(start=False)
    server.start()
    log = (server.path / f"server-{server.port}.log").read_text()
    found = re.findall(r"admin created, password \(shown this once\): (\S+)", log)
    assert len(found) == 1, log
    with server.client() as c:
        assert login(c, "admin", found[0]).status_code == 303
        assert c.get("/app/users").status_code == 200
    server.stop()
    server.start()  # users exist now: no new password
    assert "shown this once" not in (server.path / f"server-{server.port}.log").read_text()
    rows = server.rows("SELECT name, role, hash FROM users")
    assert [(n, r) for n, r, _ in rows] == [("admin", "admin")]
    assert found[0].encode() not in bytes(rows[0][2])  # a hash, not the password


def test_login_session_cookie_and_logout(live):
    server = live(start=False)
    _users(server, ("ana", "analyst"))
    server.start()
    with server.client() as c:
        r = c.get("/app/funnel?window=7d")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fapp%2Ffunnel%3Fwindow%3D7d"
        assert c.get("/api/v1/analyses").status_code == 401
        assert c.get("/app/api/data").status_code == 401
        r = login(c, "ana", PW, next="/app/funnel")
        assert r.status_code == 303 and r.headers["location"] == "/app/funnel"
        cookie = r.headers["set-cookie"]
        assert "parcours_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP
        page = c.get("/app/funnel")
        assert page.status_code == 200 and "Entonnoir" in page.text  # French by default
        assert "Funnel" in c.get("/app/funnel?lang=en").text
        assert c.get("/api/v1/analyses").status_code == 200  # the dashboard's own fetches
        assert c.post("/v1/refresh").status_code == 401  # a session is not a read key for POSTs
        token = c.cookies["parcours_session"]
        assert c.post("/logout", data={"csrf": "wrong"}).status_code == 403
        r = c.post("/logout", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303
    with server.client(cookies={"parcours_session": token}) as replay:
        assert replay.get("/app/overview").status_code == 303  # the old token is dead
    rows = server.rows("SELECT token_hash FROM sessions")
    assert token not in {r[0] for r in rows}


def test_secure_cookie_over_https_and_no_open_redirect(live):
    server = live(start=False)
    _users(server, ("ana", "analyst"))
    server.start()
    with server.client() as c:
        token = csrf_of(c.get("/login").text)
        c.headers["X-Forwarded-Proto"] = "https"  # uvicorn trusts a proxy on loopback
        r = c.post("/login", data={"csrf": token, "name": "ana", "password": PW, "next": "//evil.example/"})
        assert "Secure" in r.headers["set-cookie"]
        assert r.headers["location"] == "/app/overview"


def test_csrf_is_checked_on_every_form(live):
    server = live(start=False)
    _users(server, ("root", "admin"))
    server.start()
    with server.client() as c:
        c.get("/login")
        r = c.post("/login", data={"csrf": "forged", "name": "root", "password": PW})
        assert r.status_code == 403
    with session_client(server, "root", PW) as c:
        for path, data in [("/app/users", {"name": "x", "role": "viewer"}), ("/app/surveys", {"kind": "nps"}),
                           ("/app/segments", {"name": "s", "definition": "attributes.segment=vip"})]:
            assert c.post(path, data=data).status_code == 403, path
            assert c.post(path, data={**data, "csrf": "nope"}).status_code == 403, path
        r = c.post("/app/users", data={"name": "bob", "role": "viewer", "csrf": csrf_of(c.get("/app/users").text)})
        assert r.status_code == 200
        shown = re.search(r'<code id="new-password">([^<]+)</code>', r.text).group(1)
        # API keys: one made on the page works at once on the query API; revoked, it stops
        r = c.post("/app/keys", data={"kind": "read", "name": "bi", "csrf": csrf_of(r.text)})
        key = re.search(r'<code id="new-password">([^<]+)</code>', r.text).group(1)
        assert key.startswith("pc_r_")
        assert c.post("/app/keys", data={"kind": "read"}).status_code == 403  # CSRF here too
    with server.client(key) as bi:
        assert bi.get("/api/v1/analyses").status_code == 200
    with session_client(server, "root", PW) as c:
        page = c.get("/app/users").text
        key_id = key.split("_")[2]
        assert f'data-key="{key_id}"' in page
        assert c.post("/app/keys", data={"revoke": key_id, "csrf": csrf_of(page)}).status_code == 200
    with server.client() as bob:
        assert login(bob, "bob", shown).status_code == 303
    assert sorted(r[0] for r in server.rows("SELECT name FROM users")) == ["bob", "root"]
    assert server.rows("SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'bi'") == [(True,)]


def test_login_rate_limit(live):
    server = live(start=False)
    _users(server, ("ana", "viewer"), ("eve", "viewer"))
    server.start()
    with server.client() as c:
        for _ in range(5):
            assert login(c, "ana", "not-the-password").status_code == 401
        r = login(c, "ana", PW)  # even the right password waits now
        assert r.status_code == 429 and 250 <= int(r.headers["Retry-After"]) <= 301
        assert login(c, "eve", PW).status_code == 303  # per user: others still log in
        assert login(c, "ghost", "whatever-it-is").status_code == 401  # unknown names look the same


def test_roles_are_enforced(live):
    server = live(start=False)
    _users(server, ("vic", "viewer"), ("ana", "analyst"), ("root", "admin"))
    server.start()
    with session_client(server, "vic", PW) as vic:
        page = vic.get("/app/surveys")
        assert page.status_code == 200 and "Lecture seule" in page.text
        token = csrf_of(page.text)
        assert vic.get("/app/users").status_code == 403
        assert vic.post("/app/surveys", data={"kind": "nps", "csrf": token}).status_code == 403
        assert vic.post("/app/segments", data={"name": "s", "definition": "x", "csrf": token}).status_code == 403
        assert vic.post("/app/users", data={"name": "z", "role": "admin", "csrf": token}).status_code == 403
        assert "/app/users" not in vic.get("/app/overview").text  # not in the navigation either
        # a viewer reads the stage funnel; building one (steps, window ...) is the analyst's
        funnel = vic.get("/app/funnel?steps=a%0Ab")
        assert "Lecture seule" in funnel.text and 'name="steps"' not in funnel.text
        assert 'data-api="/app/q/funnel?stages=true"' in funnel.text
        assert vic.get("/app/q/funnel", params=[("step", "a"), ("step", "b")]).status_code == 403
    with session_client(server, "ana", PW) as ana:
        assert ana.get("/app/users").status_code == 403
        assert 'name="steps"' in ana.get("/app/funnel").text
        token = csrf_of(ana.get("/app/surveys").text)
        assert ana.post("/app/surveys", data={"kind": "csat", "csrf": token}).status_code == 303
    with session_client(server, "root", PW) as root:
        assert root.get("/app/users").status_code == 200
    assert server.rows("SELECT kind, created_by FROM surveys") == [("csat", "ana")]


def test_session_survives_a_restart(live):
    server = live(start=False)
    _users(server, ("ana", "analyst"))
    server.start()
    with session_client(server, "ana", PW) as c:
        token = c.cookies["parcours_session"]
    server.stop()
    server.start()
    with server.client(cookies={"parcours_session": token}) as again:
        assert again.get("/app/overview").status_code == 200


def test_cli_user_add(tmp_path):
    runner = CliRunner()
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    r = runner.invoke(app, ["user", "add", str(ws), "ana", "--role", "analyst", "--lang", "en"])
    assert r.exit_code == 0, r.output
    password = re.search(r"shown this once: (\S+)", r.output).group(1)
    r = runner.invoke(app, ["user", "add", str(ws), "vic", "--password-stdin"], input="a-long-passphrase\n")
    assert r.exit_code == 0 and "a-long-passphrase" not in r.output
    assert runner.invoke(app, ["user", "add", str(ws), "x", "--role", "boss"]).exit_code != 0
    r = runner.invoke(app, ["user", "add", str(ws), "y", "--password-stdin"], input="short\n")
    assert r.exit_code != 0 and "10 characters" in r.output
    with Workspace.open(ws) as w:
        assert [(u.name, u.role) for u in list_users(w.store)] == [("ana", "analyst"), ("vic", "viewer")]
        assert check_password(w.store, "ana", password).role == "analyst"
        assert check_password(w.store, "vic", "a-long-passphrase") is not None
        assert check_password(w.store, "vic", "a-long-passphras") is None
        assert check_password(w.store, "nobody", "a-long-passphrase") is None
