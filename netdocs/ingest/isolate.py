"""Per-document isolation: an error caused by one document's data is that document's
failure; an error of the connection itself stops the task (Prefect retries it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg

from netdocs.errors import LockLost
from netdocs.safetext import safe_name

log = logging.getLogger(__name__)


def why(error: BaseException) -> str:
    """A one-line, storable description of an error (type and first line)."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return safe_name(text).replace("\x00", "\\x00")


def reraise_if_connection(conn: psycopg.Connection, error: Exception) -> None:
    """Connection problems (and a lost ingest lock) are not the document's fault: re-raise."""
    lost = psycopg.OperationalError | psycopg.InterfaceError | LockLost
    if conn.broken or isinstance(error, lost):
        raise error


def try_write(
    conn: psycopg.Connection, doc_id: str, write: Callable[..., Any], *args: Any
) -> str | None:
    """Run one document's write (its own transaction); the error text if its data was
    refused (logged), None on success."""
    try:
        write(conn, *args)
    except Exception as e:
        reraise_if_connection(conn, e)
        log.warning("%s: not stored: %s", safe_name(doc_id), why(e))
        return why(e)
    return None
