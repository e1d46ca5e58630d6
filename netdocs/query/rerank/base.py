"""The ``Reranker`` protocol and the pure reordering of candidates by scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from netdocs.errors import NetdocsError
from netdocs.query.results import Hit


class RerankError(NetdocsError):
    """A reranker or rewriter could not produce a usable result (the caller falls back)."""


class Reranker(Protocol):
    """Scores candidates for a question; higher is better.

    ``rerank`` returns a score per chunk id for some or all of ``candidates``; ids it does
    not score keep their given (fused) order behind the scored ones. It raises
    :class:`RerankError` (or any exception) when it cannot score: the caller then keeps
    the offline order. ``name`` describes the reranker in notes and cache keys.
    """

    name: str

    def rerank(self, question: str, candidates: Sequence[Hit]) -> dict[str, float]:
        """Scores by chunk id for (a subset of) ``candidates``."""
        ...


def order_by_scores(candidates: Sequence[Hit], scores: Mapping[str, float]) -> list[Hit]:
    """Scored candidates first, best score first (ties keep the given order); then the
    unscored ones in their given order. Ids not among the candidates are ignored."""
    rank = {h.chunk_id: i for i, h in enumerate(candidates)}
    scored = [h for h in candidates if h.chunk_id in scores]
    scored.sort(key=lambda h: (-scores[h.chunk_id], rank[h.chunk_id]))
    rest = [h for h in candidates if h.chunk_id not in scores]
    return scored + rest
