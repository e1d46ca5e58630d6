"""Per-provider circuit breakers: closed -> open after repeated failures -> half-open
(one probe) -> closed again, and the process-wide registry of them (one per endpoint)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker's state for logs, ``netdocs status`` and the ``provider_breakers`` table."""

    provider: str
    state: str  # closed | open | half_open
    failures: int  # consecutive failures counted so far
    opened_at: float | None  # wall-clock time (time.time()) of the last opening


BreakerListener = Callable[[BreakerSnapshot], None]


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures -> half-open after ``cooldown``
    seconds (one probe call goes through) -> closed on the probe's success, open again on its
    failure. Thread-safe; ``clock`` (monotonic) and ``wall`` are injectable for tests."""

    def __init__(
        self,
        provider: str = "provider",
        threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        listeners: list[BreakerListener] | None = None,
    ) -> None:
        self.provider, self.threshold, self.cooldown = provider, max(1, threshold), cooldown
        self._clock, self._wall = clock, wall
        self._state = CLOSED
        self._failures = 0
        self._opened_mono: float | None = None
        self._opened_wall: float | None = None
        self._probe_at: float | None = None  # when the half-open probe was let through
        self._lock = threading.Lock()
        self._listeners = listeners if listeners is not None else []

    @property
    def state(self) -> str:
        """closed / open / half_open (an open breaker past its cool-down reads half_open)."""
        with self._lock:
            return self._effective()

    def _effective(self) -> str:
        if self._state == OPEN and self._cooled(self._opened_mono):
            return HALF_OPEN
        return self._state

    def _cooled(self, since: float | None) -> bool:
        return since is None or self._clock() - since >= self.cooldown

    def snapshot(self) -> BreakerSnapshot:
        """The current state as a value."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(self.provider, self._effective(), self._failures, self._opened_wall)

    def restore(self, snap: BreakerSnapshot) -> bool:
        """Adopt an open state recorded by another process (``snap.opened_at`` is wall
        time) when this breaker is closed and that cool-down has not passed yet."""
        if snap.state != OPEN or snap.opened_at is None:
            return False
        with self._lock:
            elapsed = max(0.0, self._wall() - snap.opened_at)
            if self._state != CLOSED or elapsed >= self.cooldown:
                return False
            self._state, self._failures = OPEN, max(snap.failures, self._failures)
            self._opened_wall, self._opened_mono = snap.opened_at, self._clock() - elapsed
            restored = self._snapshot()
        self._notify(
            restored,
            f"open (recorded {elapsed:.0f}s ago); next probe in {self.cooldown - elapsed:.0f}s",
        )
        return True

    def available(self) -> bool:
        """True when :meth:`allow` would let a call through (does not take the probe)."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                return self._cooled(self._opened_mono)
            return self._cooled(self._probe_at)  # a probe that never reported back

    def allow(self) -> bool:
        """May a call be made now? Closed: yes. Open: no until the cool-down has passed,
        then the breaker goes half-open and this one caller is the probe. Half-open: no
        while the probe is out (unless it never reported back within a cool-down)."""
        changed = None
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN and not self._cooled(self._opened_mono):
                return False
            if self._state == HALF_OPEN and not self._cooled(self._probe_at):
                return False
            if self._state == OPEN:
                self._state = HALF_OPEN
                changed = self._snapshot()
            self._probe_at = self._clock()
        if changed:
            self._notify(changed, "half-open: letting one probe call through")
        return True

    def success(self) -> None:
        """A call succeeded: close the circuit."""
        with self._lock:
            was = self._state
            self._state, self._failures, self._probe_at = CLOSED, 0, None
            self._opened_mono = self._opened_wall = None
            snap = self._snapshot()
        if was != CLOSED:
            self._notify(snap, "closed: the provider answers again")

    def failure(self) -> None:
        """A call failed: count it; open at the threshold (at once when half-open)."""
        with self._lock:
            self._failures += 1
            opens = self._state == HALF_OPEN or (
                self._state == CLOSED and self._failures >= self.threshold
            )
            if self._state == OPEN:  # a call let through before it opened
                self._opened_mono, self._opened_wall = self._clock(), self._wall()
            if opens:
                self._state, self._probe_at = OPEN, None
                self._opened_mono, self._opened_wall = self._clock(), self._wall()
            snap = self._snapshot()
        if opens:
            self._notify(
                snap,
                f"open after {snap.failures} consecutive failure(s); "
                f"next probe in {self.cooldown:g}s",
            )

    def _notify(self, snap: BreakerSnapshot, what: str) -> None:
        level = logging.WARNING if snap.state == OPEN else logging.INFO
        log.log(level, "circuit breaker %s: %s", snap.provider, what)
        for listener in list(self._listeners):
            try:
                listener(snap)
            except Exception:  # a broken listener must not break provider calls
                log.exception("circuit breaker listener failed")


_breakers: dict[tuple[str, str | None], CircuitBreaker] = {}
_breakers_lock = threading.Lock()
_listeners: list[BreakerListener] = []


def get_breaker(
    provider: str, endpoint: str | None = None, *, threshold: int = 3, cooldown: float = 30.0
) -> CircuitBreaker:
    """The process-wide breaker of one provider endpoint (thresholds follow the caller's
    current settings)."""
    with _breakers_lock:
        breaker = _breakers.get((provider, endpoint))
        if breaker is None:
            breaker = CircuitBreaker(provider, threshold, cooldown, listeners=_listeners)
            _breakers[(provider, endpoint)] = breaker
        breaker.threshold, breaker.cooldown = max(1, threshold), cooldown
        return breaker


def breaker_snapshots() -> list[BreakerSnapshot]:
    """Every breaker of this process (the latest per provider name)."""
    with _breakers_lock:
        breakers = list(_breakers.values())
    return list({b.provider: b.snapshot() for b in breakers}.values())


def add_breaker_listener(listener: BreakerListener) -> None:
    """Call ``listener`` on every state change of every breaker."""
    _listeners.append(listener)


def reset_breakers() -> None:
    """Forget every breaker (tests)."""
    with _breakers_lock:
        _breakers.clear()
