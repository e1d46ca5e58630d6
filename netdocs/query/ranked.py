"""Ranked results with per-document diversity: the service's candidates through
:mod:`netdocs.query.diversity` (no cache, no audit: :mod:`netdocs.query.api` adds them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from netdocs.query.diversity import POOL, DocHit, diversify, documents
from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


def ranked_hits(
    service: SearchService,
    text: str,
    k: int,
    mode: Mode = "fused",
    *,
    vector: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
    per_doc: int | None = None,
) -> list[Hit]:
    """The top ``k`` chunks, at most ``per_doc`` (default NETDOCS_DIVERSITY_PER_DOC) of one
    document unless fewer documents match; no cache, no audit (:func:`run_search` adds them).
    """
    per_doc = service.settings.diversity_per_doc if per_doc is None else per_doc
    if per_doc <= 0 or k <= 0:
        return service.search(text, k, mode, vector=vector, timings=timings)
    pool = service.search(text, k, mode, vector=vector, timings=timings, pool=POOL)
    return diversify(pool, k, per_doc)


def ranked_documents(
    service: SearchService,
    text: str,
    k: int,
    mode: Mode,
    vector: np.ndarray | None,
    timings: dict[str, float],
) -> tuple[list[DocHit], list[Hit]]:
    """The top ``k`` documents of the candidate pool, and each one's best chunk."""
    pool = service.search(text, k, mode, vector=vector, timings=timings, pool=max(POOL, k))
    docs = documents(pool, limit=k)
    best = {h.chunk_id: h for h in pool}
    return docs, [best[d.chunk_id] for d in docs]


def doc_from_json(d: dict[str, Any]) -> DocHit:
    """A :class:`DocHit` from its cached ``asdict`` form."""
    return DocHit(**{**d, "chunk_ids": tuple(d["chunk_ids"])})
