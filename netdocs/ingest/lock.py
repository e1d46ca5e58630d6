"""One ingest run per index at a time: a PostgreSQL advisory lock held for the run.

The lock lives as long as its database session. A watchdog thread checks that session every
few seconds; once it is gone (a database restart, ``pg_terminate_backend``, a network drop)
the run is no longer exclusive, so the lock is *not* taken again: the run is marked lost and
stops with :class:`LockLost` at its next check (each task's start, and before the run's
deletes and its final record, where the session is probed directly).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from netdocs.db import connect
from netdocs.errors import LockLost, RunLocked

log = logging.getLogger(__name__)

INGEST_LOCK_KEY = 0x6E64696E67657374  # "ndingest"
WATCH_INTERVAL_S = 2.0
LOST_MESSAGE = (
    "the ingest lock was lost (its database session ended: {why}); the run stopped because "
    "it was no longer exclusive; documents committed so far are complete; run it again"
)

_held: dict[str, _Watchdog] = {}  # url -> the watchdog of the lock this process holds


def _try_lock(url: str) -> tuple[psycopg.Connection, bool]:
    """A new session and whether it got the lock (the caller closes the session)."""
    conn = connect(url, autocommit=True, vector=False)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (INGEST_LOCK_KEY,)).fetchone()
    return conn, bool(row and row[0])


class _Watchdog(threading.Thread):
    """Notices the end of the lock's session; never re-takes the lock."""

    def __init__(self, conn: psycopg.Connection, interval: float) -> None:
        super().__init__(name="ingest-lock-watchdog", daemon=True)
        self.conn, self.interval = conn, interval
        self.stop = threading.Event()
        self.lost: str | None = None  # why the session ended, once it has

    def probe(self) -> bool:
        """True while the lock's session answers (psycopg serialises use across threads)."""
        if self.lost is None:
            try:
                self.conn.execute("SELECT 1")
            except psycopg.Error as e:
                self.lost = type(e).__name__ + (f": {str(e).strip()[:160]}" if str(e) else "")
                log.error("ingest lock lost: %s; the run will stop", self.lost)
        return self.lost is None

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            if not self.probe():
                return


def ensure_held(url: str, *, probe: bool = False) -> None:
    """Raise LockLost if this process's ingest lock on ``url`` was lost.

    ``probe=True`` asks the lock's session now instead of trusting the watchdog's last look.
    Without a lock held here (a task run elsewhere) there is nothing to check.
    """
    watchdog = _held.get(url)
    if watchdog is None:
        return
    if probe:
        watchdog.probe()
    if watchdog.lost is not None:
        raise LockLost(LOST_MESSAGE.format(why=watchdog.lost))


@contextmanager
def run_lock(url: str, watch_interval: float = WATCH_INTERVAL_S) -> Iterator[None]:
    """Hold the index's ingest lock, or raise RunLocked naming the holder.

    Raises LockLost on exit if the lock's session ended meanwhile (and nothing else is
    being raised)."""
    conn, got = _try_lock(url)
    if not got:
        try:
            holder = conn.execute(
                "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
        who = f" (database session pid {holder[0]}, since {holder[2]:%H:%M:%S})" if holder else ""
        raise RunLocked(f"another ingest run is in progress on this index{who}; try again later")
    watchdog = _Watchdog(conn, watch_interval)
    watchdog.start()
    _held[url] = watchdog
    try:
        yield
    finally:
        _held.pop(url, None)
        watchdog.stop.set()
        watchdog.join(timeout=15)
        watchdog.conn.close()  # closing the session releases the lock, also after a crash
    if watchdog.lost is not None:
        raise LockLost(LOST_MESSAGE.format(why=watchdog.lost))
