"""Ranked results with per-document diversity: the service's candidates through
:mod:`netdocs.query.diversity` (no cache, no audit: :mod:`netdocs.query.api` adds them)."""

from __future__ import annotations

from typing import Any

from netdocs.query.diversity import POOL, DocHit, diversify, documents
from netdocs.query.pending import VectorLike
from netdocs.query.rerank.pipeline import Retrieval, RetrievalPlan
from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


def ranked_retrieval(
    plan: RetrievalPlan,
    service: SearchService,
    text: str,
    k: int,
    mode: Mode,
    *,
    vector: VectorLike | None,
    timings: dict[str, float] | None,
    per_doc: int,
) -> Retrieval:
    """The top ``k`` chunks, at most ``per_doc`` of one document unless fewer documents
    match, through ``plan``'s optional stages (rewrite widens and rerank orders the
    candidate pool; diversity then chooses the top ``k`` from it)."""
    if per_doc <= 0 or k <= 0:
        return plan.search(service, text, k, mode, vector=vector, timings=timings)
    out = plan.search(service, text, k, mode, vector=vector, timings=timings, pool=POOL)
    out.hits = diversify(out.hits, k, per_doc, in_order=plan.active)
    return out


def ranked_plan_documents(
    plan: RetrievalPlan,
    service: SearchService,
    text: str,
    k: int,
    mode: Mode,
    vector: VectorLike | None,
    timings: dict[str, float],
) -> tuple[list[DocHit], list[Hit], Retrieval]:
    """The top ``k`` documents of the candidate pool through ``plan``'s optional stages,
    each one's best chunk, and what the stages did."""
    out = plan.search(service, text, k, mode, vector=vector, timings=timings, pool=max(POOL, k))
    docs = documents(out.hits, limit=k, in_order=plan.active)
    best = {h.chunk_id: h for h in out.hits}
    return docs, [best[d.chunk_id] for d in docs], out


def doc_from_json(d: dict[str, Any]) -> DocHit:
    """A :class:`DocHit` from its cached ``asdict`` form."""
    return DocHit(**{**d, "chunk_ids": tuple(d["chunk_ids"])})
