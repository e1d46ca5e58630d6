"""BodyLimit at the ASGI level: a declared length within the bound passes through uncounted
only when the body is framed by it; with a Transfer-Encoding as well (which h11 lets win
over Content-Length) the body is still counted and refused past the bound."""

from __future__ import annotations

import asyncio
from typing import Any

from netdocs.server.limits import BodyLimit

LIMIT = 1000


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads the whole body, then answers 200 with its size."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[int]:
    """The statuses BodyLimit(_app) sends for a request of ``headers`` and body ``chunks``."""
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    scope = {"type": "http", "headers": headers}
    asyncio.run(BodyLimit(_app, LIMIT)(scope, receive, send))
    return sent


def test_declared_length_within_the_bound_is_served() -> None:
    assert _call([(b"content-length", b"600")], [b"x" * 600]) == [200]


def test_declared_length_over_the_bound_is_refused_unread() -> None:
    assert _call([(b"content-length", b"5000")], [b"x" * 5000]) == [413]


def test_chunked_body_over_the_bound_is_refused() -> None:
    assert _call([(b"transfer-encoding", b"chunked")], [b"x" * 600] * 3) == [413]


def test_a_small_declared_length_does_not_exempt_a_chunked_body() -> None:
    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    assert _call(headers, [b"x" * 600] * 3) == [413]
