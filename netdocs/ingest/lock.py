"""One ingest run per index at a time: a PostgreSQL advisory lock held for the run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from netdocs.db import connect
from netdocs.errors import RunLocked

INGEST_LOCK_KEY = 0x6E64696E67657374  # "ndingest"


@contextmanager
def run_lock(url: str) -> Iterator[None]:
    """Hold the index's ingest lock, or raise RunLocked naming the holder."""
    conn = connect(url, autocommit=True, vector=False)
    try:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (INGEST_LOCK_KEY,)).fetchone()
        if not row or not row[0]:
            holder = conn.execute(
                "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted LIMIT 1"
            ).fetchone()
            who = (
                f" (database session pid {holder[0]}, since {holder[2]:%H:%M:%S})" if holder else ""
            )
            raise RunLocked(
                f"another ingest run is in progress on this index{who}; try again later"
            )
        yield
    finally:
        conn.close()  # closing the session releases the lock, also after a crash
