"""One ingest run per index at a time: a PostgreSQL advisory lock held for the run.

The lock lives as long as its database session. A database restart ends that session, so a
watchdog thread checks it every few seconds and, after a drop, reconnects and takes the lock
again (logging the gap); if another run took it meanwhile, that is logged as an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from netdocs.db import connect
from netdocs.errors import DatabaseError, RunLocked

log = logging.getLogger(__name__)

INGEST_LOCK_KEY = 0x6E64696E67657374  # "ndingest"
WATCH_INTERVAL_S = 2.0


def _try_lock(url: str) -> tuple[psycopg.Connection, bool]:
    """A new session and whether it got the lock (the caller closes the session)."""
    conn = connect(url, autocommit=True, vector=False)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (INGEST_LOCK_KEY,)).fetchone()
    return conn, bool(row and row[0])


class _Watchdog(threading.Thread):
    """Keeps the lock held across database restarts."""

    def __init__(self, url: str, conn: psycopg.Connection, interval: float) -> None:
        super().__init__(name="ingest-lock-watchdog", daemon=True)
        self.url, self.conn, self.interval = url, conn, interval
        self.stop = threading.Event()
        self.lost = False  # another run took the lock while ours was gone
        self.reacquired = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.conn.execute("SELECT 1")
                continue
            except psycopg.Error:
                log.warning("ingest lock: database session lost; taking the lock again")
            self.conn.close()
            while not self.stop.is_set():
                try:
                    self.conn, got = _try_lock(self.url)
                except (DatabaseError, psycopg.Error):
                    self.stop.wait(min(self.interval, 1.0))  # the server is still down
                    continue
                if self.stop.is_set():  # the run ended meanwhile: do not keep the lock
                    self.conn.close()
                    return
                if got:
                    self.reacquired += 1
                    log.warning("ingest lock: held again after the database session was lost")
                else:
                    self.lost = True
                    log.error(
                        "ingest lock: lost while the database restarted; another ingest run "
                        "holds it now (both runs converge, but this one is no longer exclusive)"
                    )
                break
            if self.lost:
                return


@contextmanager
def run_lock(url: str, watch_interval: float = WATCH_INTERVAL_S) -> Iterator[None]:
    """Hold the index's ingest lock, or raise RunLocked naming the holder."""
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
    watchdog = _Watchdog(url, conn, watch_interval)
    watchdog.start()
    try:
        yield
    finally:
        watchdog.stop.set()
        watchdog.join(timeout=15)
        watchdog.conn.close()  # closing the session releases the lock, also after a crash
