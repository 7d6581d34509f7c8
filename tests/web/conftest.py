"""A real server for the API tests: ``parcours serve`` in a subprocess on 127.0.0.1.

The server process owns the store (DuckDB lets one process write it), so tests that look at
the stored rows stop it first (``Live.rows``) and open the store themselves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from parcours.data.store import Store
from parcours.web.keys import add_key
from parcours.workspace import STORE_FILE, Workspace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_workspace(path: Path) -> tuple[Path, str, str]:
    """A workspace with one write key and one read key."""
    with Workspace.init(path) as ws:
        write, _ = add_key(ws.store, "write", "test writer")
        read, _ = add_key(ws.store, "read", "test reader")
    return path, write, read


class Live:
    """One ``parcours serve`` process over a workspace; restartable, killable."""

    def __init__(self, path: Path, write_key: str, read_key: str, *args: str):
        self.path, self.write_key, self.read_key, self.args = path, write_key, read_key, args
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Live":
        self.port = free_port()
        self.log = open(self.path / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "parcours.cli", "serve", str(self.path), "--port", str(self.port), *self.args],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PARCOURS_LANG": "en"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(self.path / f'server-{self.port}.log').read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): queued writes finish first."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(60)
        self.proc = None

    def client(self, key: str | None = None, basic: bool = False, **kw) -> httpx.Client:
        headers, auth = {}, None
        if key and basic:
            auth = (key, "")
        elif key:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.url, headers=headers, auth=auth, timeout=60, **kw)

    def writer(self, **kw) -> httpx.Client:
        return self.client(self.write_key, basic=True, **kw)

    def reader(self, **kw) -> httpx.Client:
        return self.client(self.read_key, **kw)

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        """Stop the server and read the store directly."""
        self.stop()
        with Store(self.path / STORE_FILE, read_only=True) as store:
            return store.fetch(sql, params)


@pytest.fixture
def live(tmp_path):
    """A started server over a fresh workspace, background refresh off; stopped after the test."""
    servers: list[Live] = []

    def make(*args: str, start: bool = True) -> Live:
        path, write, read = new_workspace(tmp_path / f"ws{len(servers)}")
        server = Live(path, write, read, "--refresh-every", "0", *args)
        servers.append(server)
        return server.start() if start else server

    yield make
    for s in servers:
        s.kill()
