"""Dashboard users and their roles; passwords kept as scrypt hashes, never in clear.

Roles are ordered: an admin may do what an analyst may, an analyst what a viewer may.
``viewer`` reads, ``analyst`` also builds funnels, saves segments and creates surveys,
``admin`` also manages users and keys. The same scrypt setting as the API keys
(``keys.SCRYPT``) makes a stolen store slow to brute-force.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass

from ..errors import ConfigError
from .keys import _hash

ROLES = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")

DDL = """CREATE TABLE IF NOT EXISTS users (
    name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL)"""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: dt.datetime

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "created_at": self.created_at.isoformat()}


def ensure_table(store) -> None:
    with store.transaction() as con:
        con.execute(DDL)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(store, name: str, role: str, password: str | None = None) -> tuple[str, User]:
    """Create ``name`` with ``role``; returns the password (generated when not given) and the user."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not _NAME.match(name or ""):
        raise ConfigError(f"user name {name!r}: 1 to 64 letters, digits or . _ @ -")
    password = new_password() if password is None else password
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password needs at least {MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ensure_table(store)
    with store.transaction() as con:
        if con.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchall()[0][0]:
            raise ConfigError(f"user {name!r} already exists")
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", [name, role, salt, _hash(password, salt), now])
    return password, User(name, role, now)


def list_users(store) -> list[User]:
    ensure_table(store)
    return [User(*r) for r in store.fetch("SELECT name, role, created_at FROM users ORDER BY name")]


_DUMMY_SALT = secrets.token_bytes(16)


def check_password(store, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None; an unknown name costs the same hash."""
    rows = store.fetch("SELECT role, salt, hash, created_at FROM users WHERE name = ?", [name])
    if not rows:
        _hash(password, _DUMMY_SALT)
        return None
    role, salt, stored, created = rows[0]
    if hmac.compare_digest(_hash(password, bytes(salt)), bytes(stored)):
        return User(name, role, created)
    return None


def first_admin(store) -> str | None:
    """With no user yet, create ``admin`` and return its one-time password; else None."""
    ensure_table(store)
    if store.scalar("SELECT count(*) FROM users"):
        return None
    password, _ = add_user(store, "admin", "admin")
    return password


__all__ = ["ROLES", "User", "add_user", "check_password", "ensure_table", "first_admin", "list_users"]
