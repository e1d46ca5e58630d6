"""API tokens: each bound to a user and a role; only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from netdocs.errors import ConfigError

PREFIX = "ndt_"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token (never the secret itself)."""

    token_id: str
    user: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the token's lifetime has run out (never, when it has no expiry)."""
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at

    def to_json(self) -> dict[str, str | None]:
        """A JSON-ready dict."""
        return {
            "token_id": self.token_id,
            "user": self.user,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def token_hash(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


#: How long a new token lives unless ``--expires-in`` says otherwise.
DEFAULT_LIFETIME = timedelta(days=90)
_SPAN = re.compile(r"(\d{1,6})([mhdw])")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_lifetime(text: str) -> timedelta | None:
    """``30m``, ``12h``, ``90d``, ``4w`` as a timedelta; ``never`` as None (no expiry)."""
    value = text.strip().lower()
    if value == "never":
        return None
    m = _SPAN.fullmatch(value)
    if m is None or int(m.group(1)) == 0:
        raise ConfigError(
            f"--expires-in: {text!r} is not a lifetime (a number and m, h, d or w, as 90d;"
            " or never)"
        )
    return timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})


def create_token(
    conn: psycopg.Connection,
    user: str,
    role: str,
    lifetime: timedelta | None = DEFAULT_LIFETIME,
) -> tuple[TokenInfo, str]:
    """Store a new token for ``user`` as ``role`` living ``lifetime`` (None: until revoked);
    returns its info and the secret (shown once: it cannot be recovered from the database)."""
    if not user.strip():
        raise ConfigError("--user: must not be empty")
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(4)
    seconds = None if lifetime is None else lifetime.total_seconds()
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO api_tokens (token_id, token_hash, user_name, role, expires_at)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))"
            " RETURNING created_at, expires_at",
            (token_id, token_hash(secret), user, role, seconds),
        ).fetchone()
    assert row is not None
    return TokenInfo(token_id, user, role, row[0], None, None, row[1]), secret


_COLUMNS = "token_id, user_name, role, created_at, revoked_at, last_used_at, expires_at"


def list_tokens(conn: psycopg.Connection) -> list[TokenInfo]:
    """Every token, oldest first (revoked ones included)."""
    with conn.transaction():
        rows = conn.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at").fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(conn: psycopg.Connection, token_id: str) -> TokenInfo:
    """Revoke a token by id (idempotent); an unknown id is a ConfigError."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
            f" WHERE token_id = %s RETURNING {_COLUMNS}",
            (token_id,),
        ).fetchone()
    if row is None:
        raise ConfigError(f"token id {token_id!r}: no such token (see `netdocs token list`)")
    return TokenInfo(*row)


#: ``last_used_at`` is refreshed at most this often (not a write per request).
TOUCH_EVERY_S = 60


def lookup(conn: psycopg.Connection, token: str) -> TokenInfo | None:
    """The live (not revoked, not expired) token matching ``token``, or None."""
    digest = token_hash(token)
    with conn.transaction():
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "UPDATE api_tokens SET last_used_at = now() WHERE token_hash = %s AND"
            " (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s))",
            (digest, TOUCH_EVERY_S),
        )
    return TokenInfo(*row)


class TokenCache:
    """Live tokens by hash, re-checked against the database every ``ttl_s`` seconds.

    Saves the token lookup (a transaction) on every request. Only live tokens are cached
    (an unknown token always reaches the database), so a revoked token is refused at most
    ``ttl_s`` seconds after ``netdocs token revoke`` commits; ``ttl_s`` 0 turns it off. A
    cached token past its expiry is not served from the cache (the database refuses it).
    """

    def __init__(
        self, ttl_s: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s, self._max, self._clock = ttl_s, max_entries, clock
        self._entries: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    def peek(self, token: str) -> TokenInfo | None:
        """The cached live token while its entry is younger than ``ttl_s``; None when only
        the database can tell (unknown, expired from the cache, or the cache off)."""
        if self.ttl_s <= 0:
            return None
        digest = token_hash(token)
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and self._clock() - hit[0] < self.ttl_s and not hit[1].expired():
            return hit[1]
        return None

    def was_live(self, token: str) -> bool:
        """True when ``token`` was live at its last check, however long ago, and has not
        expired since (the caller must still look it up: it may have been revoked)."""
        with self._lock:
            hit = self._entries.get(token_hash(token))
        return hit is not None and not hit[1].expired()

    def lookup(self, conn: psycopg.Connection, token: str) -> TokenInfo | None:
        """As :func:`lookup`, from the cache while the entry is younger than ``ttl_s``."""
        if self.ttl_s <= 0:
            return lookup(conn, token)
        digest, now = token_hash(token), self._clock()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s and not hit[1].expired():
            return hit[1]
        info = lookup(conn, token)
        with self._lock:
            if info is None:
                self._entries.pop(digest, None)
            else:
                if len(self._entries) >= self._max:
                    self._entries.clear()  # bounded; refilled from the database
                self._entries[digest] = (now, info)
        return info
