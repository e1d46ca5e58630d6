"""The circuit breaker's state machine, driven by an injected clock."""

from __future__ import annotations

import logging

import pytest

from netdocs.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerSnapshot,
    CircuitBreaker,
    breaker_snapshots,
    get_breaker,
    reset_breakers,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreaker, Clock, list[str]]:
    clock = Clock()
    seen: list[str] = []
    breaker = CircuitBreaker(
        "p",
        threshold,
        cooldown,
        clock=clock,
        wall=lambda: 1.7e9,
        listeners=[lambda s: seen.append(s.state)],
    )
    return breaker, clock, seen


def test_opens_after_threshold_consecutive_failures() -> None:
    b, _, seen = make()
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.success()  # a success in between resets the count
    b.failure()
    b.failure()
    assert b.state == CLOSED
    b.failure()
    assert b.state == OPEN and not b.allow() and not b.available()
    assert seen == [OPEN]
    assert b.snapshot() == BreakerSnapshot("p", OPEN, 3, 1.7e9)


def test_half_open_after_cooldown_lets_exactly_one_probe_through() -> None:
    b, clock, seen = make()
    for _ in range(3):
        b.failure()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state == HALF_OPEN and b.available()
    assert b.allow()  # the probe
    assert not b.allow() and not b.available()  # everyone else waits for its outcome
    b.success()
    assert b.state == CLOSED and b.allow() and b.snapshot().failures == 0
    assert seen == [OPEN, HALF_OPEN, CLOSED]


def test_failed_probe_opens_again_for_a_full_cooldown() -> None:
    b, clock, seen = make(threshold=2)
    b.failure()
    b.failure()
    clock.now += 10
    assert b.allow()
    b.failure()  # one failure is enough while half-open
    assert b.state == OPEN and not b.allow()
    clock.now += 9
    assert not b.allow()
    clock.now += 1
    assert b.allow()
    assert seen == [OPEN, HALF_OPEN, OPEN, HALF_OPEN]


def test_a_probe_that_never_reports_back_is_replaced_after_a_cooldown() -> None:
    b, clock, _ = make(threshold=1)
    b.failure()
    clock.now += 10
    assert b.allow()
    clock.now += 5
    assert not b.allow()
    clock.now += 5
    assert b.allow()


def test_state_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    b, clock, _ = make(threshold=1)
    with caplog.at_level(logging.INFO, logger="netdocs.resilience"):
        b.failure()
        clock.now += 10
        b.allow()
        b.success()
    text = caplog.text
    assert "circuit breaker p: open after 1" in text
    assert "half-open" in text and "closed" in text


def test_a_broken_listener_does_not_break_calls() -> None:
    def boom(_: BreakerSnapshot) -> None:
        raise RuntimeError("listener")

    b = CircuitBreaker("p", 1, 1.0, listeners=[boom])
    b.failure()
    assert b.state == OPEN


def test_registry_is_per_endpoint_and_follows_settings() -> None:
    reset_breakers()
    try:
        a = get_breaker("x", "http://a", threshold=2, cooldown=5)
        assert get_breaker("x", "http://a", threshold=4, cooldown=6) is a
        assert (a.threshold, a.cooldown) == (4, 6)
        assert get_breaker("x", "http://b") is not a
        a.failure()
        states = {s.provider: s.state for s in breaker_snapshots()}
        assert set(states) == {"x"}
    finally:
        reset_breakers()


def test_restore_adopts_a_recent_open_state_from_another_process() -> None:
    clock = Clock()
    b = CircuitBreaker("p", 3, 10.0, clock=clock, wall=lambda: 5000.0)
    assert not b.restore(BreakerSnapshot("p", CLOSED, 0, None))
    assert not b.restore(BreakerSnapshot("p", OPEN, 3, 4990.0))  # its cool-down is over
    assert b.state == CLOSED
    assert b.restore(BreakerSnapshot("p", OPEN, 3, 4996.0))  # opened 4 s ago
    assert b.state == OPEN and not b.allow()
    clock.now += 5.9
    assert not b.allow()
    clock.now += 0.1  # 10 s after the recorded opening
    assert b.allow() and b.state == HALF_OPEN
    assert not b.restore(BreakerSnapshot("p", OPEN, 3, 4999.0))  # only a closed one adopts
