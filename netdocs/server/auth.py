"""Who is calling: an API token (``Authorization: Bearer ...``), or -- only when enabled and
only from a configured proxy address -- a trusted reverse proxy's user and role headers.

The role always comes from the token (or the trusted proxy), never from the request body.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from netdocs.config import Settings
from netdocs.server.tokens import TokenCache, lookup


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    role: str
    via: str  # "token" | "proxy"


#: The 401 details (the same whether the server refuses before or after a database lookup).
INVALID_TOKEN = "invalid, expired or revoked token"
MISSING_TOKEN = "missing token: send 'Authorization: Bearer <token>'"
PROXY_SECRET_WRONG = (
    "proxy user and role headers without the proxy's secret (NETDOCS_PROXY_SECRET): "
    "only the proxy may send them"
)
PROXY_REPEATED = (
    "the proxy's user or role header came more than once: the proxy must replace a "
    "client's header of that name, not add its own beside it"
)


class AuthError(Exception):
    """Authentication failed (HTTP 401) or the request overreaches its role (403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, if any."""
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def trusted_proxy(host: str | None, settings: Settings) -> bool:
    """True when ``host`` (the TCP peer) is one of NETDOCS_TRUSTED_PROXIES (addresses or
    networks). An empty list -- the default -- trusts nobody."""
    if not host or not settings.trusted_proxies.strip():
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in settings.trusted_proxies.split(","):
        try:
            if entry.strip() and addr in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def authenticate(
    conn: psycopg.Connection,
    headers: Mapping[str, str],
    host: str | None,
    settings: Settings,
    tokens: TokenCache | None = None,
) -> Principal:
    """The caller, or AuthError(401). A presented token that is unknown or revoked is
    refused even from a trusted proxy. ``tokens``: look live tokens up through this cache."""
    token = bearer_token(headers)
    if token is not None:
        info = lookup(conn, token) if tokens is None else tokens.lookup(conn, token)
        if info is None:
            raise AuthError(401, INVALID_TOKEN)
        return Principal(info.user, info.role, "token")
    who = _proxy_principal(headers, host, settings)
    if who is not None:
        return who
    raise AuthError(401, MISSING_TOKEN)


def known_principal(
    headers: Mapping[str, str], host: str | None, settings: Settings, tokens: TokenCache
) -> Principal | None:
    """The caller when no database is needed to tell: a token live in ``tokens``, or (no
    token) a trusted proxy's user and role; None otherwise (then :func:`authenticate`
    decides, refusing what it must)."""
    token = bearer_token(headers)
    if token is not None:
        info = tokens.peek(token)
        return None if info is None else Principal(info.user, info.role, "token")
    return _proxy_principal(headers, host, settings)


def _proxy_principal(
    headers: Mapping[str, str], host: str | None, settings: Settings
) -> Principal | None:
    if trusted_proxy(host, settings):
        user = (headers.get(settings.proxy_user_header.lower()) or "").strip()
        role = (headers.get(settings.proxy_role_header.lower()) or "").strip()
        if "\n" in user + role:  # sent twice (see app.who): which one the proxy set is unknown
            raise AuthError(401, PROXY_REPEATED)
        if user and role:
            _check_proxy_secret(headers, settings)
            return Principal(user, role, "proxy")
    return None


def _check_proxy_secret(headers: Mapping[str, str], settings: Settings) -> None:
    """With NETDOCS_PROXY_SECRET set, the proxy's headers count only beside that secret
    (compared in constant time; a repeated header never matches)."""
    if settings.proxy_secret is None:
        return
    sent = (headers.get(settings.proxy_secret_header.lower()) or "").encode("utf-8", "replace")
    if not hmac.compare_digest(sent, settings.proxy_secret.get_secret_value().encode("utf-8")):
        raise AuthError(401, PROXY_SECRET_WRONG)


def check_role(principal: Principal, requested: str | None) -> None:
    """A body naming a role other than the caller's is refused (403): it cannot choose."""
    if requested is not None and requested != principal.role:
        raise AuthError(
            403,
            f"this token is bound to role {principal.role!r}; it cannot ask as {requested!r}",
        )
