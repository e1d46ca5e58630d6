"""Which failures Prefect retries: transient infrastructure errors only."""

from __future__ import annotations

from typing import Any

import psycopg

from netdocs.errors import DatabaseError, NetdocsError

TRANSIENT = (
    psycopg.OperationalError,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    DatabaseError,
    TimeoutError,
    ConnectionError,
)


def is_transient(exc: BaseException | None) -> bool:
    """True for errors worth a retry (connection drops, timeouts, DB restarts)."""
    if exc is None:
        return False
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, NetdocsError):
        return False  # permanent by definition: bad config, refused run, bad document
    return False


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only transient errors."""
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - inspecting the task's own failure
        return is_transient(exc)
    return False
