"""One metric row per search/ask, written so that it can never fail or slow the answer.

``record_query`` catches every error (it logs one warning line and returns False), reuses
one autocommit connection per database URL and process, and bounds the INSERT with a
statement timeout. Measured cost: see ``benchmarks/bench_record.py`` and the README.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import psycopg

log = logging.getLogger(__name__)

#: Per-stage timing keys (milliseconds) filled by search / answer code.
STAGES = ("embed_ms", "dense_ms", "fulltext_ms", "fuse_ms", "generate_ms")
#: The longest a metric INSERT may take before PostgreSQL cancels it.
STATEMENT_TIMEOUT_MS = 250
CONNECT_TIMEOUT_S = 2
#: A metric row is not worth a WAL flush: its commit returns without waiting for the disk
#: (a server crash may lose the last few rows; it never corrupts anything).
_NO_FLUSH = "-c synchronous_commit=off"


@dataclass
class QueryMetric:
    """What one search or ask did, how long each stage took and what it cost."""

    query_id: str = ""
    ts: datetime | None = None  # None = now() in the database
    kind: str = "search"  # search | ask
    role: str | None = None
    user: str | None = None
    latency_ms: float = 0.0
    embed_ms: float | None = None
    dense_ms: float | None = None
    fulltext_ms: float | None = None
    fuse_ms: float | None = None
    generate_ms: float | None = None
    result_count: int = 0
    empty: bool = False
    low_confidence: bool = False
    cache_hit: bool = False
    mode: str | None = None  # llm | fallback (ask only)
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    k: int | None = None

    def __post_init__(self) -> None:
        if not self.query_id:
            self.query_id = str(uuid.uuid4())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the timestamp as ISO 8601)."""
        data = asdict(self)
        data["ts"] = self.ts.isoformat() if self.ts else None
        return data


COLUMNS = [f.name for f in fields(QueryMetric)]
DB_COLUMNS = ["user_name" if c == "user" else c for c in COLUMNS]
INSERT_SQL = (
    f"INSERT INTO query_metrics ({', '.join(DB_COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in COLUMNS)}) ON CONFLICT (query_id) DO NOTHING"
)
_LOCAL_SETTINGS = (
    f"SET LOCAL synchronous_commit = off; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"
)
SELECT_SQL = f"SELECT {', '.join(DB_COLUMNS)} FROM query_metrics"


def insert_values(m: QueryMetric) -> list[Any]:
    """The parameters of ``INSERT_SQL`` for ``m``."""
    values = [getattr(m, c) for c in COLUMNS]
    values[COLUMNS.index("ts")] = m.ts or datetime.now(UTC)
    return values


class _Connections:
    """One lazily opened autocommit connection per URL, shared by the process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[str, psycopg.Connection] = {}

    def execute(self, url: str, sql: str, params: list[Any]) -> None:
        with self._lock:
            conn = self._conns.get(url)
            if conn is None or conn.closed:
                conn = psycopg.connect(
                    url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} {_NO_FLUSH}",
                )
                self._conns[url] = conn
            try:
                conn.execute(sql, params)
            except psycopg.OperationalError:
                conn.close()  # reopened on the next call
                raise

    def close_all(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()


_pool = _Connections()


def record_query(conn_or_url: psycopg.Connection | str, metric: QueryMetric) -> bool:
    """Store ``metric``; True when written. Never raises: a failure is logged and dropped.

    With a connection, the INSERT runs on it (in a savepoint when a transaction is open);
    with a URL, on this process's cached connection to that database.
    """
    try:
        values = insert_values(metric)
        if isinstance(conn_or_url, str):
            _pool.execute(conn_or_url, INSERT_SQL, values)
        elif conn_or_url.autocommit:  # our own short transaction: no WAL flush wait
            with conn_or_url.transaction():
                conn_or_url.execute(_LOCAL_SETTINGS)
                conn_or_url.execute(INSERT_SQL, values)
        else:  # inside the caller's transaction (a savepoint): the caller commits
            with conn_or_url.transaction():
                conn_or_url.execute(INSERT_SQL, values)
        return True
    except Exception as e:  # a metric must never fail the answer
        log.warning("query metric %s not recorded: %s", metric.query_id, type(e).__name__)
        log.debug("query metric error", exc_info=True)
        return False


def close_connections() -> None:
    """Close the cached connections (tests, process shutdown)."""
    _pool.close_all()


def row_to_metric(row: tuple[Any, ...]) -> QueryMetric:
    """A ``SELECT_SQL`` row as a QueryMetric."""
    return QueryMetric(**dict(zip(COLUMNS, row, strict=True)))
