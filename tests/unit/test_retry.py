"""tasks/retry.py: which failures Prefect retries (transient infrastructure errors) and
which it does not (netdocs' own permanent errors, programming errors)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from netdocs import errors
from tasks.retry import is_transient, retry_transient

TRANSIENT = [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg.errors.SerializationFailure("could not serialize access"),
    psycopg.errors.DeadlockDetected("deadlock detected"),
    errors.DatabaseError("database unavailable"),
    TimeoutError("timed out"),
    ConnectionResetError("reset by peer"),
]
PERMANENT = [
    errors.ConfigError("bad setting"),
    errors.DocumentError("a.md", "binary file"),
    errors.ValidationFailed("a.md", "control characters"),
    errors.EmbeddingError("model failed"),
    errors.MassDeleteRefused("too many deletes"),
    errors.RunLocked("another ingest run is in progress"),
    psycopg.errors.UndefinedTable("relation does not exist"),
    psycopg.errors.UniqueViolation("duplicate key"),
    ValueError("bug"),
    KeyError("bug"),
    None,
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_permanent_errors_are_not_retried(exc: BaseException | None) -> None:
    assert not is_transient(exc)


@pytest.fixture
def harness(prefect_harness: None) -> Iterator[None]:
    yield


@pytest.mark.parametrize(
    ("exc", "attempts"),
    [
        (psycopg.OperationalError("connection lost"), 3),
        (errors.DatabaseError("database unavailable"), 3),
        (errors.ConfigError("bad setting"), 1),
        (ValueError("bug"), 1),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_a_prefect_task_with_the_condition_retries_only_transient_errors(
    harness: None, exc: BaseException, attempts: int
) -> None:
    """A real Prefect task with ``retry_condition_fn=retry_transient`` and 2 retries."""
    from prefect import flow, task

    calls: list[int] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_transient)
    def failing() -> None:
        calls.append(1)
        raise exc

    @flow
    def run() -> None:
        failing()

    with pytest.raises(type(exc)):
        run()
    assert len(calls) == attempts
