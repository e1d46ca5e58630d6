"""One deadline for all the model calls of an ask (rewrite, rerank, router, answer).

Each provider call has its own timeout and retry budget (``NETDOCS_LLM_TIMEOUT``); without a
shared deadline an ask making four calls could take four times that. :func:`ask_deadline`
sets the ask's end in a context variable (per thread and per asyncio task); the chat client
reads :func:`remaining` before every attempt, skips the call when too little is left, and
otherwise shortens its timeout to what is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: A call is not started with less than this left: it could not finish, only spend.
MIN_CALL_S = 1.0

_END: ContextVar[tuple[float, float] | None] = ContextVar("netdocs_ask_deadline", default=None)


@contextmanager
def ask_deadline(seconds: float) -> Iterator[None]:
    """Model calls inside the block end within ``seconds`` of entering it (nested blocks
    keep the earlier end)."""
    end = time.monotonic() + seconds
    outer = _END.get()
    token = _END.set((end, seconds) if outer is None or end < outer[0] else outer)
    try:
        yield
    finally:
        _END.reset(token)


def remaining() -> float | None:
    """Seconds left before the current ask's deadline (None outside an ask)."""
    current = _END.get()
    return None if current is None else current[0] - time.monotonic()


def budget() -> float | None:
    """The current ask's whole deadline in seconds (None outside an ask), for messages."""
    current = _END.get()
    return None if current is None else current[1]


class DeadlinePassed(Exception):
    """Too little of the ask's deadline was left to start a model call."""
