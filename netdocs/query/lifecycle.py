"""One query's life between question and result: the query-result cache lookup and store,
the question vector through the question-embedding cache, then the audit row (fail closed),
the metric row and the post-query hooks. Used by :mod:`netdocs.query.api`."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from netdocs.audit import log as audit
from netdocs.cache import store
from netdocs.cache.embeddings import lookup_query_vector, store_query_vector
from netdocs.cache.keys import cache_key, key_fields
from netdocs.config import Settings
from netdocs.errors import DatabaseError
from netdocs.metrics.hook import metric_of_record, on_query_record
from netdocs.metrics.record import INSERT_SQL, insert_values
from netdocs.query.fallback import low_confidence
from netdocs.query.hooks import QueryRecord, run_hooks
from netdocs.query.pending import PendingVector
from netdocs.query.results import Hit
from netdocs.query.search import Mode, clean_text
from netdocs.query.service import SearchService
from netdocs.query.timing import timed

log = logging.getLogger(__name__)

#: Both rows in one autocommit statement: the audit INSERT as a WITH part of the metric's.
TOGETHER_SQL = f"WITH audit_row AS ({audit.INSERT_SQL}) {INSERT_SQL}"


@dataclass
class QueryInfo:
    """One search or ask: its id, start time and per-stage timings (what the audit and
    metric rows take; the event-loop path of ``netdocs serve`` needs no more)."""

    action: str
    question: str
    k: int
    mode: Mode
    user: str | None
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)  # per-stage ms, for the metrics

    @property
    def text(self) -> str:
        return clean_text(self.question)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


@dataclass
class QueryRun(QueryInfo):
    """A query on a search service: its cache key too, and the I/O of its life."""

    service: SearchService = field(kw_only=True)
    key: str | None = None
    fields: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.service.follow_index()  # a long-lived service follows policy and model changes

    def lookup(self, settings: dict[str, Any]) -> store.CachedResult | None:
        """The servable cached entry, or None (and the key to store under)."""
        svc = self.service
        ttl = svc.settings.query_cache_ttl
        with svc._lock:
            model = svc.index_model
            if ttl <= 0 or model is None:
                return None
            conn = svc.conn
            gen = svc.take_generation()
            if gen is None:
                gen = store.current_generation(conn)
            self.fields, self.key = query_key(
                self.action, self.text, svc.allowed, gen, settings, model[0]
            )
            entry = store.lookup_visible(
                conn, self.key, ttl, svc.allowed, svc.settings.stale_max_age
            )
            if entry is not None:
                store.mark_hit(conn, self.key, svc.counters)
                return entry
            store.count_lookup(conn, "query", False, svc.counters)
            return None

    def vector(self) -> np.ndarray | PendingVector | None:
        """The question's vector through the question-embedding cache (None: not needed).

        On a miss in the fused mode the question is embedded on a worker thread while the
        full-text query runs (:mod:`netdocs.query.pending`); its vector is stored in the
        cache when the search takes it, in this connection's thread.
        """
        svc = self.service
        with svc._lock:
            model = svc.index_model
            if model is None or self.mode == "fulltext":
                return None
            with timed(self.timings, "embed_ms"):
                vec = lookup_query_vector(svc.conn, model[0], self.text, svc.counters)
                if vec is not None:
                    return vec
                embed = svc.query_embedding(self.text)
                if self.mode != "fused":
                    vec = embed()
                    store_query_vector(svc.conn, model[0], self.text, vec, svc.counters)
                    return vec

            def finish(vector: np.ndarray) -> None:
                store_query_vector(svc.conn, model[0], self.text, vector, svc.counters)

            return PendingVector(embed, finish=finish, timings=self.timings)

    def save(
        self, result: dict[str, Any], hits: list[Hit], ids: list[str] | None = None, **usage: Any
    ) -> None:
        """Cache ``result``; it is served only while every chunk of ``ids`` (default: the
        hits') is still visible."""
        if self.key is None or self.fields is None:
            return
        with self.service._lock:
            ids = [h.chunk_id for h in hits] if ids is None else ids
            store.store(
                self.service.conn, self.key, self.fields, self.service.allowed, result, ids, **usage
            )

    def _write_together(
        self, row: dict[str, Any], details: dict[str, Any], record: QueryRecord
    ) -> bool:
        """The audit row and the metric row in one statement (a data-modifying WITH: one
        round trip, one implicit transaction, both rows or neither); False when that failed
        (nothing was written: the caller writes them apart)."""
        conn = self.service.conn
        params = together_params(row, details, record)
        if not conn.autocommit or params is None:
            return False
        try:
            with self.service._lock:
                conn.execute(TOGETHER_SQL, params)
        except psycopg.Error as e:
            log.debug("audit and metric rows not written together: %s", type(e).__name__)
            return False
        return True

    def finish(self, hits: list[Hit], cache_hit: bool, latency_ms: float, **extra: Any) -> None:
        """The audit row (fail closed: no result without it) and the metric row, together in
        one round trip when possible; then the hooks."""
        svc = self.service
        row, details, record = record_parts(
            self,
            svc.allowed,
            getattr(svc, "role", None),
            svc.settings,
            hits,
            cache_hit,
            latency_ms,
            extra,
        )
        if not self._write_together(row, details, record):
            with svc._lock:
                write_apart(svc.conn, row, details, record)
        run_hooks(record)


def query_key(
    action: str,
    text: str,
    allowed: frozenset[str] | None,
    generation: int,
    settings: dict[str, Any],
    model_id: str,
) -> tuple[dict[str, Any], str]:
    """The cache-key fields and the key of one query (pure)."""
    fields = key_fields(action, text, allowed, generation, {**settings, "index_model": model_id})
    return fields, cache_key(fields)


def record_parts(
    run: QueryInfo,
    allowed: frozenset[str] | None,
    role: str | None,
    settings: Settings,
    hits: list[Hit],
    cache_hit: bool,
    latency_ms: float,
    extra: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], QueryRecord]:
    """The audit row's fields, its details and the query record of a finished run (pure)."""
    row: dict[str, Any] = {  # what the audit row and the query record both carry
        "query_id": run.query_id,
        "action": run.action,
        "user": run.user or audit.current_user(settings),
        "role": role,
        "tags": None if allowed is None else tuple(sorted(allowed)),
        "question": run.question,
        "chunk_ids": tuple(h.chunk_id for h in hits),
        "paths": tuple(h.path for h in hits),
        "cache_hit": cache_hit,
    }
    details: dict[str, Any] = {"k": run.k, "mode": run.mode, "latency_ms": round(latency_ms, 1)}
    kept = ("answer_mode", "model", "cited", "cached_from")  # cached_from: the query whose
    details.update({k: v for k, v in extra.items() if k in kept})  # answer a hit replays
    if extra.get("retrieval_notes"):
        details["retrieval"] = list(extra["retrieval_notes"])
    record_fields = {k: v for k, v in extra.items() if k not in ("cited", "cached_from")}
    record_fields.setdefault("low_confidence", low_confidence(hits, settings.fallback_min_cosine))
    record = QueryRecord(
        **row,
        at=run.at,
        latency_ms=latency_ms,
        retrieval_mode=run.mode,
        k=run.k,
        timings=dict(run.timings),
        **record_fields,
    )
    return row, details, record


def together_params(
    row: dict[str, Any], details: dict[str, Any], record: QueryRecord
) -> list[Any] | None:
    """The parameters of :data:`TOGETHER_SQL`; None for a malformed metric (then the audit
    row is written alone)."""
    try:
        values = insert_values(metric_of_record(record))
    except Exception:
        return None
    return audit.row_values(**row, details=details) + values


def write_apart(
    conn: psycopg.Connection, row: dict[str, Any], details: dict[str, Any], record: QueryRecord
) -> None:
    """The audit row in its own transaction (DatabaseError when it fails: no result
    without it), then the metric row (best effort)."""
    try:
        with conn.transaction():
            audit.write(conn, **row, details=details)
    except psycopg.Error as e:  # fail closed: no result without its audit row
        raise DatabaseError(f"the audit log could not be written, result withheld: {e}") from e
    on_query_record(record, conn=conn)
