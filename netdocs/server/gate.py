"""Callers are authenticated before they take a query slot.

A query slot (``NETDOCS_SERVE_MAX_CONCURRENT``) is the server's scarce resource. A request
that cannot be authenticated must not hold one: a client sending made-up tokens would
otherwise keep every slot busy and turn real users away with 503s. So, before the slot:

- a token live in the token cache, or a trusted proxy's user and role, passes at once;
- so does a token that was live when last checked but whose cache entry has aged: the
  handler looks it up again in its slot (a revoked one is refused there, once, and then
  forgotten), so real users never queue behind made-up tokens every few seconds;
- no token (and no trusted proxy) is a 401, and so is a token that cannot be one netdocs
  made (``ndt_`` + 43 URL-safe characters): no database work at all;
- any other token is looked up in an auth lane of its own (one thread, one pooled
  connection, waiting at most the slot wait, else 503): made-up tokens queue behind each
  other there, while callers whose token is cached go straight to the slots.

With the token cache off (``NETDOCS_SERVE_TOKEN_CACHE_S=0``) the lane is skipped and the
handler's own lookup decides, in its slot, as before.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from netdocs.server.auth import (
    INVALID_TOKEN,
    MISSING_TOKEN,
    AuthError,
    bearer_token,
    known_principal,
)
from netdocs.server.runtime import Busy, Runtime
from netdocs.server.tokens import PREFIX

#: What ``create_token`` makes: the prefix and ``secrets.token_urlsafe(32)``.
TOKEN_SHAPE = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}")


def plausible(token: str) -> bool:
    """True when ``token`` has the form of a token netdocs issues."""
    return TOKEN_SHAPE.fullmatch(token) is not None


class Gate:
    """The check in front of the query slots (see the module docstring)."""

    def __init__(self, rt: Runtime, wait_s: float) -> None:
        self.rt = rt
        self._wait_s = wait_s
        self._lane = asyncio.Semaphore(1)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="netdocs-auth")

    async def admit(self, headers: Mapping[str, str], host: str | None) -> None:
        """Return when the caller may take a slot; AuthError(401) or Busy otherwise."""
        rt = self.rt
        if known_principal(headers, host, rt.settings, rt.tokens) is not None:
            return
        token = bearer_token(headers)
        if token is None:
            raise AuthError(401, MISSING_TOKEN)
        if not plausible(token):
            raise AuthError(401, INVALID_TOKEN)
        if rt.tokens.ttl_s <= 0 or rt.tokens.was_live(token):
            return
        if self._lane.locked() and self._wait_s == 0:
            raise Busy("too many unrecognised tokens being checked")
        try:
            await asyncio.wait_for(self._lane.acquire(), self._wait_s or None)
        except TimeoutError:
            raise Busy("too many unrecognised tokens being checked") from None
        try:
            live = await asyncio.get_running_loop().run_in_executor(self._thread, self._live, token)
        finally:
            self._lane.release()
        if not live:
            raise AuthError(401, INVALID_TOKEN)

    def _live(self, token: str) -> bool:
        with self.rt.connection() as conn:
            return self.rt.tokens.lookup(conn, token) is not None

    def close(self) -> None:
        """Stop the lane's thread."""
        self._thread.shutdown(wait=False, cancel_futures=True)
