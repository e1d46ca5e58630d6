"""Scripted behaviours for the provider stub: what the next request gets.

A behaviour is a :class:`Fault` or a short string parsed by :func:`parse_fault`:

    "ok"            a normal answer
    "429"           HTTP 429 with ``Retry-After: 1``
    "429:0.2"       HTTP 429 with ``Retry-After: 0.2`` (any status takes ``:<seconds>``)
    "429:ms=250"    HTTP 429 with ``retry-after-ms: 250`` only
    "500" "529"...  that status with the provider's error JSON (529 = Anthropic overloaded)
    "400"           bad request (callers must not retry it)
    "slow:2"        sleep 2 s, then a normal answer (past a short client timeout)
    "reset"         close the connection without a response (TCP RST)
    "garbage"       HTTP 200, ``application/json``, a body that is not JSON
    "wrong-count"   embeddings: one vector more than inputs
    "wrong-dim"     embeddings: vectors one element short
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

Kind = Literal["ok", "status", "slow", "reset", "garbage", "wrong-count", "wrong-dim"]

_SIMPLE: dict[str, Kind] = {
    "ok": "ok",
    "reset": "reset",
    "garbage": "garbage",
    "wrong-count": "wrong-count",
    "wrong-dim": "wrong-dim",
}


@dataclass(frozen=True)
class Fault:
    """One scripted behaviour. ``retry_after`` may be seconds or an HTTP date string."""

    kind: Kind = "ok"
    status: int = 200
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    delay: float = 0.0
    message: str | None = None  # error message in the provider's error JSON

    @property
    def label(self) -> str:
        """A short name for request records (``"429"``, ``"slow"``, ``"ok"``...)."""
        return str(self.status) if self.kind == "status" else self.kind


OK = Fault()
Behaviour = Fault | str


def parse_fault(spec: Behaviour) -> Fault:
    """Turn a behaviour string (see the module docstring) into a :class:`Fault`."""
    if isinstance(spec, Fault):
        return spec
    name, _, arg = spec.strip().partition(":")
    if name in _SIMPLE and not arg:
        return Fault(kind=_SIMPLE[name])
    if name == "slow":
        return Fault(kind="slow", delay=float(arg or 5.0))
    if name.isdigit():
        status = int(name)
        if arg.startswith("ms="):
            return Fault(kind="status", status=status, retry_after_ms=float(arg[3:]))
        if arg:
            return Fault(kind="status", status=status, retry_after=float(arg))
        return Fault(kind="status", status=status, retry_after=1.0 if status == 429 else None)
    raise ValueError(f"unknown stub behaviour: {spec!r}")


class FaultScript:
    """Queues of behaviours: one per route plus a global one; empty means ``ok``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global: deque[Fault] = deque()
        self._routes: dict[str, deque[Fault]] = {}

    def add(self, behaviours: tuple[Behaviour, ...], route: str | None = None) -> None:
        """Append behaviours to ``route``'s queue (or the global queue)."""
        faults = [parse_fault(b) for b in behaviours]
        with self._lock:
            queue = self._global if route is None else self._routes.setdefault(route, deque())
            queue.extend(faults)

    def next(self, route: str) -> Fault:
        """The next behaviour for ``route``: its own queue first, then the global one."""
        with self._lock:
            own = self._routes.get(route)
            if own:
                return own.popleft()
            return self._global.popleft() if self._global else OK

    def pending(self) -> int:
        """How many scripted behaviours are still unconsumed."""
        with self._lock:
            return len(self._global) + sum(len(q) for q in self._routes.values())

    def clear(self) -> None:
        """Drop every queued behaviour."""
        with self._lock:
            self._global.clear()
            self._routes.clear()
