"""API keys: write keys ingest, read keys query. Stored hashed, shown once.

A key reads ``pc_<kind>_<id>_<secret>``: the id finds the row, the secret is checked against
its scrypt hash, so a copy of the store gives nobody a usable key. scrypt is slow on purpose
(tens of milliseconds), so the server remembers keys it has already checked (``KeyRing``);
revoking a key happens while the server is stopped (DuckDB lets one process write the
store), and a running server re-reads the table every ``ttl`` seconds anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from ..errors import ConfigError

KINDS = ("write", "read")
PREFIX = "pc"
#: scrypt cost: n=2**14, r=8 is the interactive-login setting of the scrypt paper (16 MiB).
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}

DDL = """CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR, salt BLOB NOT NULL,
    hash BLOB NOT NULL, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    kind: str
    name: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def to_dict(self) -> dict:
        return {"key_id": self.key_id, "kind": self.kind, "name": self.name,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, **SCRYPT)


def _split(key: str) -> tuple[str, str, str] | None:
    """(kind, key_id, secret) of a well-formed key, else None."""
    parts = key.split("_")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] not in ("w", "r"):
        return None
    return ("write" if parts[1] == "w" else "read"), parts[2], parts[3]


def ensure_table(store) -> None:
    with store.transaction() as con:
        con.execute(DDL)


def add_key(store, kind: str, name: str | None = None) -> tuple[str, ApiKey]:
    """A new key of ``kind``: returns the key text (shown once) and its stored record."""
    if kind not in KINDS:
        raise ConfigError(f"key kind must be one of {', '.join(KINDS)}, not {kind!r}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24).replace("_", "-")
    salt = secrets.token_bytes(16)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ensure_table(store)
    with store.transaction() as con:
        con.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [key_id, kind, name, salt, _hash(secret, salt), now])
    return f"{PREFIX}_{kind[0]}_{key_id}_{secret}", ApiKey(key_id, kind, name, now)


def list_keys(store) -> list[ApiKey]:
    ensure_table(store)
    rows = store.fetch("SELECT key_id, kind, name, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id")
    return [ApiKey(*r) for r in rows]


def revoke_key(store, key_id: str) -> ApiKey:
    """Revoke by id (the part after ``pc_w_`` / ``pc_r_``) or by the whole key."""
    parsed = _split(key_id)
    key_id = parsed[1] if parsed else key_id
    ensure_table(store)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.transaction() as con:
        hit = con.execute("SELECT count(*) FROM api_keys WHERE key_id = ?", [key_id]).fetchall()[0][0]
        if not hit:
            raise ConfigError(f"no key with id {key_id!r} (see `parcours key list`)")
        con.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?", [now, key_id])
    return next(k for k in list_keys(store) if k.key_id == key_id)


class KeyRing:
    """Checks presented keys against the table; remembers verified ones for ``ttl`` seconds.

    ``fetch`` runs one query (``fetch(sql, params) -> rows``) on a connection the caller
    may use from this thread.
    """

    def __init__(self, ttl: float = 30.0):
        self.ttl = ttl
        self._seen: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    MISSING = object()

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()

    def peek(self, key: str):
        """The remembered answer for ``key`` (a kind or None), or ``MISSING`` if not fresh."""
        with self._lock:
            hit = self._seen.get(self._digest(key))
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        return self.MISSING

    def kind_of(self, key: str, fetch) -> str | None:
        """``"write"`` or ``"read"`` for a valid, unrevoked key; None otherwise."""
        hit = self.peek(key)
        if hit is not self.MISSING:
            return hit
        digest, now = self._digest(key), time.monotonic()
        kind = self._check(key, fetch)
        with self._lock:
            if len(self._seen) > 10_000:  # wrong keys must not grow memory without bound
                self._seen.clear()
            self._seen[digest] = (kind, now)
        return kind

    @staticmethod
    def _check(key: str, fetch) -> str | None:
        parsed = _split(key)
        if parsed is None:
            return None
        kind, key_id, secret = parsed
        rows = fetch("SELECT kind, salt, hash FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id])
        if not rows or rows[0][0] != kind:
            return None
        stored_kind, salt, stored = rows[0]
        return stored_kind if hmac.compare_digest(_hash(secret, bytes(salt)), bytes(stored)) else None


__all__ = ["ApiKey", "KINDS", "KeyRing", "add_key", "list_keys", "revoke_key", "ensure_table"]
