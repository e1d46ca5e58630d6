"""One ingest run per index at a time: a PostgreSQL advisory lock held for the run.

The lock lives as long as its database session. A watchdog thread checks that session every
few seconds; once it is gone (a database restart, ``pg_terminate_backend``, a network drop)
the run is no longer exclusive, so the lock is *not* taken again: the run is marked lost and
stops with :class:`LockLost` at its next check (each task's start, and before the run's
deletes and its final record, where the session is probed directly).

Tasks on other processes (Dask workers) have no watchdog of their own, so the lock is also
*fenced*: taking it stores a new random fence in ``index_meta``, the run hands its fence to
its commit tasks, and each document's commit transaction first checks (``FOR SHARE``) that
the fence is still the run's. Once another run has taken the lock, the old run's commits
fail with LockLost, wherever they run, instead of overwriting the new run's work.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

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

TAKEN_MESSAGE = (
    "another ingest run has taken this index's lock since this run started (its own lock "
    "was lost); this run stopped committing; documents committed so far are complete"
)
FENCE_KEY = "ingest_fence"

_held: dict[str, _Watchdog] = {}  # url -> the watchdog of the lock this process holds
_FENCE: ContextVar[str | None] = ContextVar("netdocs_ingest_fence", default=None)


def _new_fence(conn: psycopg.Connection) -> str | None:
    """Store a new fence for the lock just taken (None on a database without the schema)."""
    fence = uuid.uuid4().hex
    try:
        conn.execute(
            "INSERT INTO index_meta (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (FENCE_KEY, fence),
        )
    except psycopg.errors.UndefinedTable:
        return None
    return fence


def fence_of(url: str) -> str | None:
    """The fence of the ingest lock this process holds on ``url`` (for its tasks)."""
    watchdog = _held.get(url)
    return watchdog.fence if watchdog else None


@contextmanager
def fenced(fence: str | None) -> Iterator[None]:
    """Commits inside the block check that ``fence`` is still the index's (see module)."""
    token = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(token)


def check_fence(conn: psycopg.Connection | psycopg.Cursor[Any]) -> None:
    """Inside a write transaction: LockLost when another run has taken the lock since the
    fence of the enclosing :func:`fenced` block was stored (nothing outside such a block)."""
    fence = _FENCE.get()
    if fence is None:
        return
    row = conn.execute(
        "SELECT 1 FROM index_meta WHERE key = %s AND value = %s FOR SHARE", (FENCE_KEY, fence)
    ).fetchone()
    if row is None:
        raise LockLost(TAKEN_MESSAGE)


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
        self.fence = _new_fence(conn)
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
                " WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.classid::bigint = %s AND l.objid::bigint = %s LIMIT 1",
                (INGEST_LOCK_KEY >> 32, INGEST_LOCK_KEY & 0xFFFFFFFF),
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
