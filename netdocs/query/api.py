"""The one entry point for every search and ask (CLI, LlamaIndex engine and retriever, and
any later server): the query-result cache, the question-embedding cache, the audit log and
the post-query hooks all live behind :func:`run_search` and :func:`run_ask`.

Results and answer context are diversified per document (NETDOCS_DIVERSITY_PER_DOC, see
:mod:`netdocs.query.diversity`) over the candidates the caller may see.

A cached result is served only when the key matches (normalised question, effective tag
set, index generation, settings), it is younger than NETDOCS_QUERY_CACHE_TTL, and every
chunk it holds still exists and is visible to the caller's tags (one SQL query, the same
tag filter as the ranking queries). The generation is read BEFORE searching: a change
committed meanwhile can only file newer results under an older generation, never the
reverse. Every query is audited before its result is returned; if the audit row cannot
be written the query fails (fail closed).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import psycopg

from netdocs.audit import log as audit
from netdocs.cache import store
from netdocs.cache.codec import answer_from_json, answer_to_json, hits_from_json, hits_to_json
from netdocs.cache.embeddings import cached_query_vector
from netdocs.cache.keys import cache_key, key_fields, prompt_version
from netdocs.errors import DatabaseError
from netdocs.metrics.hook import on_query_record
from netdocs.query.answerer import Answerer
from netdocs.query.diversity import DocHit
from netdocs.query.fallback import low_confidence
from netdocs.query.hooks import QueryRecord, run_hooks
from netdocs.query.llm import Completion, cost_usd
from netdocs.query.ranked import (
    doc_from_json,
    ranked_plan_documents,
    ranked_retrieval,
)
from netdocs.query.rerank.pipeline import RetrievalPlan, usage_fields
from netdocs.query.results import Answer, Hit
from netdocs.query.search import Mode, clean_text
from netdocs.query.service import SearchService
from netdocs.query.timing import timed


@dataclass
class SearchResult:
    """The answer to ``run_search``."""

    query_id: str
    hits: list[Hit]  # with ``by="document"``: each listed document's best chunk
    cache_hit: bool
    latency_ms: float
    notes: list[str] = field(default_factory=list)  # rerank / rewrite: what ran or fell back
    documents: list[DocHit] | None = None  # set with ``by="document"``

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs search --json`` shape (``results`` lists documents when searched
        ``by="document"``; ``retrieval`` only when rerank/rewrite is on)."""
        if self.documents is not None:
            results = [d.to_json() for d in self.documents]
        else:
            results = [h.to_json() for h in self.hits]
        out = {
            "query_id": self.query_id,
            "results": results,
            "latency_ms": round(self.latency_ms, 1),
            "cache_hit": self.cache_hit,
        }
        return {**out, "retrieval": self.notes} if self.notes else out


@dataclass
class AskResult:
    """The answer to ``run_ask``: on a hit, tokens and cost are this call's (zero)."""

    answer: Answer
    cache_hit: bool
    cached_from: str | None = None  # the query id that produced a cached answer
    notes: list[str] = field(default_factory=list)  # rerank / rewrite: what ran or fell back

    @property
    def query_id(self) -> str:
        """This query's id."""
        return self.answer.query_id

    @property
    def latency_ms(self) -> float:
        """This query's latency (a hit: lookup + visibility check)."""
        return self.answer.latency_ms

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs ask --json`` shape (``retrieval`` only when rerank/rewrite is on)."""
        out = {**self.answer.to_json(), "cache_hit": self.cache_hit}
        return {**out, "retrieval": self.notes} if self.notes else out


@dataclass
class _Query:
    service: SearchService
    action: str
    question: str
    k: int
    mode: Mode
    user: str | None
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    key: str | None = None
    fields: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # per-stage ms, for the metrics

    @property
    def text(self) -> str:
        return clean_text(self.question)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def lookup(self, settings: dict[str, Any]) -> store.CachedResult | None:
        """The servable cached entry, or None (and the key to store under)."""
        svc = self.service
        ttl = svc.settings.query_cache_ttl
        with svc._lock:
            model = svc.index_model
            if ttl <= 0 or model is None:
                return None
            conn = svc.conn
            gen = store.current_generation(conn)
            settings = {**settings, "index_model": model[0]}
            self.fields = key_fields(self.action, self.text, svc.allowed, gen, settings)
            self.key = cache_key(self.fields)
            entry = store.lookup(conn, self.key, ttl)
            if entry is not None and store.all_visible(
                conn, entry.chunk_ids, svc.allowed, svc.settings.stale_max_age
            ):
                store.mark_hit(conn, self.key, svc.counters)
                return entry
            store.count_lookup(conn, "query", False, svc.counters)
            return None

    def vector(self) -> np.ndarray | None:
        """The question's vector through the question-embedding cache (None: not needed)."""
        svc = self.service
        with svc._lock:
            model = svc.index_model
            if model is None or self.mode == "fulltext":
                return None
            with timed(self.timings, "embed_ms"):
                vec, _ = cached_query_vector(
                    svc.conn, model[0], self.text, svc.embed_query, svc.counters
                )
            return vec

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

    def finish(self, hits: list[Hit], cache_hit: bool, latency_ms: float, **extra: Any) -> None:
        """Audit (fail closed), then the metric row (same connection), then the hooks."""
        svc = self.service
        user = self.user or audit.current_user(svc.settings)
        role = getattr(svc, "role", None)
        tags = None if svc.allowed is None else tuple(sorted(svc.allowed))
        ids, paths = tuple(h.chunk_id for h in hits), tuple(h.path for h in hits)
        details: dict[str, Any] = {
            "k": self.k,
            "mode": self.mode,
            "latency_ms": round(latency_ms, 1),
        }
        details.update({k: v for k, v in extra.items() if k in ("answer_mode", "model", "cited")})
        if extra.get("retrieval_notes"):
            details["retrieval"] = list(extra["retrieval_notes"])
        try:
            self._audit(user, role, tags, ids, paths, cache_hit, details)
        except psycopg.Error as e:  # fail closed: no result without its audit row
            raise DatabaseError(f"the audit log could not be written, result withheld: {e}") from e
        record_fields = {k: v for k, v in extra.items() if k != "cited"}
        record_fields.setdefault(
            "low_confidence", low_confidence(hits, svc.settings.fallback_min_cosine)
        )
        record = QueryRecord(
            query_id=self.query_id,
            at=self.at,
            action=self.action,
            user=user,
            role=role,
            tags=tags,
            question=self.question,
            chunk_ids=ids,
            paths=paths,
            cache_hit=cache_hit,
            latency_ms=latency_ms,
            retrieval_mode=self.mode,
            k=self.k,
            timings=dict(self.timings),
            **record_fields,
        )
        with svc._lock:
            on_query_record(record, conn=svc.conn)
        run_hooks(record)

    def _audit(
        self,
        user: str,
        role: str | None,
        tags: tuple[str, ...] | None,
        ids: tuple[str, ...],
        paths: tuple[str, ...],
        cache_hit: bool,
        details: dict[str, Any],
    ) -> None:
        svc = self.service
        with svc._lock, svc.conn.transaction():
            audit.write(
                svc.conn,
                query_id=self.query_id,
                action=self.action,
                user=user,
                role=role,
                tags=tags,
                question=self.question,
                chunk_ids=ids,
                paths=paths,
                cache_hit=cache_hit,
                details=details,
            )


By = Literal["chunk", "document"]


def run_search(
    service: SearchService,
    question: str,
    k: int = 5,
    mode: Mode = "fused",
    *,
    user: str | None = None,
    vector: np.ndarray | None = None,
    by: By = "chunk",
) -> SearchResult:
    """Search as ``service``'s tag set; cached, audited, hooked.

    ``by="document"`` lists the top ``k`` documents of the candidates (file-level score,
    best heading, matching chunks) instead of chunks. ``vector`` (a caller's own query
    embedding) bypasses both caches, never the audit.
    """
    if by not in ("chunk", "document"):
        raise ValueError(f"by must be 'chunk' or 'document', not {by!r}")
    k = max(k, 0)
    per_doc = service.settings.diversity_per_doc
    qry = _Query(service, "search", question, k, mode, user)
    plan = RetrievalPlan.build(service.settings)
    settings: dict[str, Any] = {"mode": mode, "k": k, "per_doc": per_doc, "by": by, **plan.key()}
    entry = qry.lookup(settings) if vector is None else None
    docs: list[DocHit] | None = None
    calls: list[Completion] = []
    if entry is not None:
        hits, hit = hits_from_json(entry.result["hits"]), True
        notes = list(entry.result.get("retrieval") or [])
        if by == "document":
            docs = [doc_from_json(d) for d in entry.result["documents"]]
    else:
        if vector is None:
            vector = qry.vector()
        hit = False
        if by == "document":
            docs, hits, found = ranked_plan_documents(
                plan, service, qry.text, k, mode, vector, qry.timings
            )
            ids = [cid for d in docs for cid in d.chunk_ids]
            result: dict[str, Any] = {
                "hits": hits_to_json(hits),
                "documents": [asdict(d) for d in docs],
            }
        else:
            found = ranked_retrieval(
                plan,
                service,
                qry.text,
                k,
                mode,
                vector=vector,
                timings=qry.timings,
                per_doc=per_doc,
            )
            hits, ids = found.hits, None
            result = {"hits": hits_to_json(hits)}
        notes, calls = found.notes, found.calls
        if not found.degraded:  # a provider failure's fallback is not cached
            qry.save({**result, "retrieval": notes} if notes else result, hits, ids)
    latency = qry.elapsed_ms()
    qry.finish(hits, hit, latency, retrieval_notes=tuple(notes), **usage_fields(calls))
    return SearchResult(qry.query_id, hits, hit, latency, notes, docs)


def answer_settings(answerer: Answerer) -> dict[str, Any]:
    """The answerer's settings that change an answer (part of the cache key)."""
    chat, s = answerer.chat, answerer.settings
    llm = None
    if chat is not None:
        llm = {
            "provider": chat.provider,
            "model": chat.model,
            "router": chat.router_model if answerer.router else None,
            "max_tokens": s.llm_max_output_tokens,
            "prompt": prompt_version(),
        }
    return {"llm": llm, "min_cosine": s.fallback_min_cosine}


def run_ask(
    service: SearchService,
    question: str,
    k: int | None = None,
    mode: Mode = "fused",
    *,
    answerer: Answerer | None = None,
    user: str | None = None,
) -> AskResult:
    """Answer as ``service``'s tag set (the configured answerer by default); cached,
    audited, hooked. A fallback caused by a provider failure is not cached."""
    answerer = answerer or Answerer(service.settings)
    k = max(service.settings.answer_top_k if k is None else k, 0)
    qry = _Query(service, "ask", question, k, mode, user)
    plan = RetrievalPlan.build(service.settings)
    per_doc = service.settings.diversity_per_doc
    settings = {
        "mode": mode,
        "k": k,
        "per_doc": per_doc,
        "answer": answer_settings(answerer),
        **plan.key(),
    }
    entry = qry.lookup(settings)
    saved: float | None = 0.0
    calls: list[Completion] = []
    if entry is not None:
        cached = dict(entry.result)
        notes = list(cached.pop("retrieval", None) or [])
        answer = answer_from_json(cached)
        cached_from = answer.query_id
        answer.query_id, answer.question = qry.query_id, question
        answer.input_tokens = answer.output_tokens = 0
        answer.cost_usd = 0.0
        if entry.model:
            saved = cost_usd(entry.model, entry.input_tokens, entry.output_tokens)
        answer.latency_ms = qry.elapsed_ms()
        result = AskResult(answer, True, cached_from, notes)
    else:
        found = ranked_retrieval(
            plan,
            service,
            qry.text,
            k,
            mode,
            vector=qry.vector(),
            timings=qry.timings,
            per_doc=per_doc,
        )
        hits, notes, calls = found.hits, found.notes, found.calls
        answer = answerer.answer(
            question, hits, query_id=qry.query_id, started=qry.started, timings=qry.timings
        )
        good = answerer.chat is None or answer.mode == "llm" or not hits
        if good and not found.degraded:
            data = answer_to_json(answer)
            qry.save(
                {**data, "retrieval": notes} if notes else data,
                answer.hits,
                model=answer.model,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
            )
        result = AskResult(answer, False, notes=notes)
    a = result.answer
    usage = usage_fields(calls, (a.input_tokens, a.output_tokens, a.cost_usd))
    qry.finish(
        a.hits,
        result.cache_hit,
        a.latency_ms,
        answer_mode=a.mode,
        model=a.model,
        cited=[c.chunk_id for c in a.citations],
        saved_usd=saved,
        low_confidence=a.low_confidence,
        retrieval_notes=tuple(result.notes),
        **usage,
    )
    return result
