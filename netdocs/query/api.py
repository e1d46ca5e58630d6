"""The one entry point for every search and ask (CLI, LlamaIndex, server): the query-result
cache, question-embedding cache, audit log, hooks and the ask's model-call deadline.

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

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from netdocs.cache.codec import answer_from_json, answer_to_json, hits_from_json, hits_to_json
from netdocs.cache.store import CachedResult
from netdocs.errors import BadQuestion
from netdocs.query.answerer import Answerer
from netdocs.query.deadline import ask_deadline
from netdocs.query.diversity import DocHit
from netdocs.query.keyset import (  # noqa: F401  (re-exported: the server's fast path)
    By,
    answer_settings,
    ask_key_of,
    ask_key_settings,
    search_key_settings,
)
from netdocs.query.lifecycle import QueryRun
from netdocs.query.llm import Completion, cost_usd
from netdocs.query.pending import VectorLike
from netdocs.query.ranked import doc_from_json, ranked_plan_documents, ranked_retrieval
from netdocs.query.rerank.pipeline import Retrieval, RetrievalPlan, usage_fields
from netdocs.query.results import Answer, Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService
from netdocs.safetext import visible_text


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
        return _with_notes(out, self.notes)


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
        return _with_notes({**self.answer.to_json(), "cache_hit": self.cache_hit}, self.notes)


def _with_notes(out: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``out`` with the retrieval notes under ``"retrieval"`` (only when there are any)."""
    return {**out, "retrieval": notes} if notes else out


def _retrieve(
    plan: RetrievalPlan, qry: QueryRun, vector: VectorLike | None, per_doc: int
) -> Retrieval:
    """The diversified top ``qry.k`` chunks through ``plan`` (no cache, no audit)."""
    return ranked_retrieval(
        plan,
        qry.service,
        qry.text,
        qry.k,
        qry.mode,
        vector=vector,
        timings=qry.timings,
        per_doc=per_doc,
    )


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
    question = asked(question)
    qry = QueryRun("search", question, k, mode, user, service=service)
    plan = RetrievalPlan.build(service.settings)
    settings = search_key_settings(k, mode, by, per_doc, plan)
    entry = qry.lookup(settings) if vector is None else None
    docs: list[DocHit] | None = None
    calls: list[Completion] = []
    if entry is not None:
        (hits, notes, docs), hit = search_of_entry(entry, by), True
    else:
        query_vector = qry.vector() if vector is None else vector
        hit = False
        if by == "document":
            docs, hits, found = ranked_plan_documents(
                plan, service, qry.text, k, mode, query_vector, qry.timings
            )
            ids = [cid for d in docs for cid in d.chunk_ids]
            result: dict[str, Any] = {
                "hits": hits_to_json(hits),
                "documents": [asdict(d) for d in docs],
            }
        else:
            found = _retrieve(plan, qry, query_vector, per_doc)
            hits, ids = found.hits, None
            result = {"hits": hits_to_json(hits)}
        notes, calls = found.notes, found.calls
        if not found.degraded:  # a provider failure's fallback is not cached
            qry.save(_with_notes(result, notes), hits, ids)
    latency = qry.elapsed_ms()
    qry.finish(hits, hit, latency, retrieval_notes=tuple(notes), **usage_fields(calls))
    return SearchResult(qry.query_id, hits, hit, latency, notes, docs)


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
    question = asked(question)
    qry = QueryRun("ask", question, k, mode, user, service=service)
    plan = RetrievalPlan.build(service.settings)
    per_doc = service.settings.diversity_per_doc
    entry = qry.lookup(ask_key_settings(k, mode, per_doc, answerer, plan))
    saved: float | None = 0.0
    calls: list[Completion] = []
    if entry is not None:
        result, saved = ask_of_entry(entry, qry.query_id, question, qry.elapsed_ms())
    else:
        with ask_deadline(service.settings.ask_deadline_s):  # every model call of this ask
            found = _retrieve(plan, qry, qry.vector(), per_doc)
            hits, notes, calls = found.hits, found.notes, found.calls
            answer = answerer.answer(
                question, hits, query_id=qry.query_id, started=qry.started, timings=qry.timings
            )
        good = answerer.chat is None or answer.mode == "llm" or not hits
        if good and not found.degraded and not answer.truncated:
            qry.save(
                _with_notes(answer_to_json(answer), notes),
                answer.hits,
                model=answer.model,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
            )
        result = AskResult(answer, False, notes=notes)
    a = result.answer
    qry.finish(a.hits, result.cache_hit, a.latency_ms, **ask_extra(result, calls, saved))
    return result


def search_of_entry(
    entry: CachedResult, by: By
) -> tuple[list[Hit], list[str], list[DocHit] | None]:
    """A cached search result: its hits, retrieval notes and (``by="document"``) documents."""
    hits = hits_from_json(entry.result["hits"])
    notes = list(entry.result.get("retrieval") or [])
    docs = [doc_from_json(d) for d in entry.result["documents"]] if by == "document" else None
    return hits, notes, docs


def asked(question: str) -> str:
    """The question as used everywhere: storable, nothing hidden (safetext); BadQuestion
    when nothing visible is left (an empty embedding would match at random)."""
    text = visible_text(question)
    if not text.strip():
        raise BadQuestion("the question is empty (nothing visible in it)")
    return text


def ask_of_entry(
    entry: CachedResult, query_id: str, question: str, elapsed_ms: float
) -> tuple[AskResult, float | None]:
    """A cached answer served as query ``query_id`` (this call's tokens and cost: zero), and
    what producing it had cost."""
    cached = dict(entry.result)
    notes = list(cached.pop("retrieval", None) or [])
    answer = answer_from_json(cached)
    cached_from = answer.query_id
    answer.query_id, answer.question = query_id, question
    answer.input_tokens = answer.output_tokens = 0
    answer.cost_usd = 0.0
    saved: float | None = 0.0
    if entry.model:
        saved = cost_usd(entry.model, entry.input_tokens, entry.output_tokens)
    answer.latency_ms = elapsed_ms
    return AskResult(answer, True, cached_from, notes), saved


def ask_extra(result: AskResult, calls: list[Completion], saved: float | None) -> dict[str, Any]:
    """What an ask's audit and metric rows carry beyond the hits (pure)."""
    a = result.answer
    usage = usage_fields(calls, (a.input_tokens, a.output_tokens, a.cost_usd))
    return {
        "answer_mode": a.mode,
        "model": a.model,
        "cited": [c.chunk_id for c in a.citations],
        "saved_usd": saved,
        "low_confidence": a.low_confidence,
        "retrieval_notes": tuple(result.notes),
        **({"cached_from": result.cached_from} if result.cached_from else {}),
        **usage,
    }
