"""Bounds on what one caller can make the server do: request bodies (HTTP 413, a plain ASGI
middleware) and the unauthenticated ``/metrics`` computation (one at a time, reused; its
window in whole minutes).

Every API body is a small JSON object (a question of at most 2,000 characters), but uvicorn
and FastAPI read any body whole before the route's own checks run: without a bound, a few
clients sending large bodies could fill the server's memory. Declared lengths over the
bound are refused before reading; chunked bodies are counted as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    """The body went over the bound (413 already answered)."""


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (a bad Content-Length: 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.max_bytes} bytes"
        headers = scope.get("headers", ())
        declared = [v for k, v in headers if k.lower() == b"content-length"]
        framed = any(k.lower() == b"transfer-encoding" for k, _ in headers)
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                await _reply(send, 400, "invalid Content-Length")
                return
            if length > self.max_bytes:
                await _reply(send, 413, too_large)
                return
            if not framed:  # the parser delivers exactly the declared length: no counting
                await self.app(scope, receive, send)
                return
        seen, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not refused:  # the app may catch the error (FastAPI
                        refused = True  # turns it into a 400): answer 413 first, drop its reply
                        await _reply(send, 413, too_large)
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):  # already answered 413
            await self.app(scope, counted, watched)


#: The windows ``/metrics`` serves (no token is needed, so no caller may choose an arbitrary
#: window: each one would be a computation of its own, seconds of CPU for a day of rows).
METRICS_WINDOWS: dict[str, float | None] = {
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
    "all": None,
}


def metrics_window(since: str) -> float | None:
    """``/metrics``'s window in seconds (None: all rows); ValueError for any other spelling
    than those of METRICS_WINDOWS (``netdocs metrics --since`` takes any)."""
    if since not in METRICS_WINDOWS:
        raise ValueError(f"since: one of {', '.join(METRICS_WINDOWS)}")
    return METRICS_WINDOWS[since]


#: A window's text that took over HOLD_ABOVE_S to compute is kept at least COST_HOLD times
#: as long as it took, whatever ``ttl_s`` says: an unauthenticated caller polling
#: ``?since=all`` on a large table then costs at most ~1/COST_HOLD of a core.
COST_HOLD, HOLD_ABOVE_S = 10.0, 0.1


class MetricsText:
    """The ``/metrics`` text per window, computed by one request at a time (in a worker
    thread) and reused for ``ttl_s`` seconds (longer when it was costly, see COST_HOLD); at
    most ``max_windows`` windows are kept."""

    def __init__(self, ttl_s: float, max_windows: int = 8, cost_hold: float = COST_HOLD) -> None:
        self.ttl_s, self._max, self._cost_hold = ttl_s, max_windows, cost_hold
        self._texts: dict[float | None, tuple[float, str]] = {}  # (fresh until, text)
        self._lock = asyncio.Lock()

    def _fresh(self, window: float | None) -> str | None:
        hit = self._texts.get(window)
        return hit[1] if hit is not None and time.monotonic() < hit[0] else None

    async def get(self, window: float | None, compute: Callable[[], str]) -> str:
        """The text for ``window``: reused while fresh, else computed (one at a time)."""
        text = self._fresh(window)
        if text is not None:
            return text
        async with self._lock:
            text = self._fresh(window)  # computed while this request waited
            if text is None:
                started = time.monotonic()
                text = await run_in_threadpool(compute)
                done = time.monotonic()
                took = done - started
                hold = max(self.ttl_s, self._cost_hold * took if took > HOLD_ABOVE_S else 0.0)
                if len(self._texts) >= self._max:
                    self._texts.clear()
                if hold > 0:
                    self._texts[window] = (done + hold, text)
            return text
