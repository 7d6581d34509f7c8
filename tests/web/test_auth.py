"""Access control on a real server: write keys only ingest, read keys only query."""

from __future__ import annotations

import subprocess
import sys

from parcours.web.keys import KeyRing, add_key, list_keys
from parcours.workspace import Workspace

TRACK = {"userId": "c1", "event": "e", "timestamp": "2024-03-04T08:00:00Z"}


def test_keys_are_checked_by_kind(live):
    server = live()
    with server.client() as anon:
        r = anon.post("/v1/track", json=TRACK)
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        assert anon.get("/api/v1/paths").status_code == 401
        assert anon.get("/api/v1/customers/c1/timeline").status_code == 401
        assert anon.post("/v1/refresh").status_code == 401
        assert anon.get("/health").status_code == 200  # no customer data there
    with server.client("pc_w_000000000000_not-a-real-secret") as forged:
        assert forged.post("/v1/track", json=TRACK).status_code == 401
    # a real id with a wrong secret
    wrong = server.write_key.rsplit("_", 1)[0] + "_wrong"
    with server.client(wrong, basic=True) as c:
        assert c.post("/v1/track", json=TRACK).status_code == 401
    with server.reader() as c:
        r = c.post("/v1/track", json=TRACK)
        assert r.status_code == 403 and "read key" in r.json()["detail"]
    with server.client(server.read_key, basic=True) as c:
        assert c.post("/v1/batch", json={"batch": [{"type": "track", **TRACK}]}).status_code == 403
    with server.client(server.write_key) as bearer:  # Bearer works for ingestion too
        assert bearer.post("/v1/track", json=TRACK).status_code == 200
        r = bearer.get("/api/v1/paths")
        assert r.status_code == 403 and "write key" in r.json()["detail"]
        assert bearer.get("/api/v1/customers/c1/timeline").status_code == 403
    with server.writer() as basic:  # Segment style: Basic with the key as user name
        assert basic.post("/v1/track", json=TRACK).status_code == 200
        assert basic.get("/api/v1/paths").status_code == 401  # the query API reads Bearer only
    with server.reader() as c:
        assert c.post("/v1/refresh").status_code == 200
        assert c.get("/api/v1/paths").status_code == 200


def test_revoked_key_is_refused_after_restart(live):
    server = live()
    with server.writer() as c:
        assert c.post("/v1/track", json=TRACK).status_code == 200
    server.stop()
    key_id = server.write_key.split("_")[2]
    out = subprocess.run([sys.executable, "-m", "parcours.cli", "key", "revoke", str(server.path), key_id,
                          "--lang", "en"], capture_output=True, text=True, check=True)
    assert key_id in out.stdout
    server.start()
    with server.writer() as c:
        assert c.post("/v1/track", json=TRACK).status_code == 401


def test_keys_are_stored_hashed_and_shown_once(tmp_path):
    with Workspace.init(tmp_path / "ws") as ws:
        key, record = add_key(ws.store, "read", "dashboard")
        stored = ws.store.fetch("SELECT * FROM api_keys")
        assert len(stored) == 1 and key.split("_")[3].encode() not in b"".join(
            v for v in stored[0] if isinstance(v, (bytes, bytearray)))
        assert key not in repr(stored)
        assert [k.key_id for k in list_keys(ws.store)] == [record.key_id]
        ring = KeyRing()
        assert ring.kind_of(key, ws.store.fetch) == "read"
        assert ring.kind_of(key[:-1] + ("A" if key[-1] != "A" else "B"), ws.store.fetch) is None
        assert ring.kind_of("pc_w_" + key.split("_", 2)[2], ws.store.fetch) is None  # kind is part of the key
        assert ring.kind_of("", ws.store.fetch) is None


def test_key_cli(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    run = [sys.executable, "-m", "parcours.cli", "key"]
    out = subprocess.run(run + ["add", str(tmp_path / "ws"), "--kind", "write", "--name", "site", "--lang", "en"],
                         capture_output=True, text=True, check=True)
    key = out.stdout.strip()
    assert key.startswith("pc_w_")
    assert "copy it now" in out.stderr
    listed = subprocess.run(run + ["list", str(tmp_path / "ws"), "--json"], capture_output=True, text=True, check=True)
    assert key.split("_")[2] in listed.stdout and key not in listed.stdout
    bad = subprocess.run(run + ["add", str(tmp_path / "ws"), "--kind", "admin"], capture_output=True, text=True)
    assert bad.returncode == 2 and "write, read" in bad.stderr


def test_serve_refuses_a_folder_that_is_not_a_workspace(tmp_path):
    out = subprocess.run([sys.executable, "-m", "parcours.cli", "serve", str(tmp_path / "nothing"), "--lang", "en"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "is not a workspace" in out.stderr
