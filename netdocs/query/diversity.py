"""Per-document diversity and file choice over a ranked candidate pool (pure).

The fused top k is often one file several times. :func:`diversify` chooses the documents
first, by a file-level score over the candidate pool (the best chunk + ``OTHERS_WEIGHT`` x
the file's other chunks), takes at most ``per_doc`` chunks of each chosen document (its best
ones), and orders the chosen chunks by their own score: aggregation decides *which* files,
never the order of chunks (ordering by it pushes single-chunk answers down).

Only the candidates the caller may see are given here (the tag filter runs in SQL), so a
hidden chunk can never lift a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netdocs.query.results import Hit

#: Candidates (fused order) the file-level scores are computed over.
POOL = 30
#: Weight of a document's other chunks in its file-level score.
OTHERS_WEIGHT = 0.3
#: Default of NETDOCS_DIVERSITY_PER_DOC.
DEFAULT_PER_DOC = 2


@dataclass(frozen=True)
class DocHit:
    """One document of a ``--by document`` search."""

    path: str
    heading: str  # the heading of its best chunk
    score: float  # the file-level score
    chunks: int  # its matching chunks among the candidates
    chunk_id: str  # its best chunk
    chunk_ids: tuple[str, ...]  # all its matching chunks, best first

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs search --by document --json`` result shape."""
        return {
            "path": self.path,
            "heading": self.heading,
            "score": round(self.score, 6),
            "chunks": self.chunks,
            "chunk_id": self.chunk_id,
        }


def _by_doc(pool: Sequence[Hit]) -> dict[str, list[Hit]]:
    """The pool's hits per document, each list best first (pool order breaks ties)."""
    out: dict[str, list[Hit]] = {}
    for h in sorted(pool, key=lambda h: -h.score):  # stable: pool order breaks ties
        out.setdefault(h.path, []).append(h)
    return out


def file_score(scores: Sequence[float], others_weight: float = OTHERS_WEIGHT) -> float:
    """Best score + ``others_weight`` x the sum of the others (``scores`` best first)."""
    return scores[0] + others_weight * sum(scores[1:]) if scores else 0.0


def documents(
    pool: Sequence[Hit], *, others_weight: float = OTHERS_WEIGHT, limit: int | None = None
) -> list[DocHit]:
    """The pool's documents by file-level score (ties: the better best chunk, then first seen)."""
    docs = [
        DocHit(
            path=path,
            heading=hits[0].heading,
            score=file_score([h.score for h in hits], others_weight),
            chunks=len(hits),
            chunk_id=hits[0].chunk_id,
            chunk_ids=tuple(h.chunk_id for h in hits),
        )
        for path, hits in _by_doc(pool).items()
    ]
    docs.sort(key=lambda d: -d.score)  # stable: _by_doc lists documents by best chunk
    return docs if limit is None else docs[:limit]


def diversify(
    pool: Sequence[Hit], k: int, per_doc: int, *, others_weight: float = OTHERS_WEIGHT
) -> list[Hit]:
    """The top ``k`` of ``pool`` with at most ``per_doc`` chunks of one document.

    Documents are taken by file-level score, each contributing its best ``per_doc`` chunks,
    until ``k`` chunks are chosen; if the pool holds too few documents, its remaining chunks
    fill the list (best first). The result is ordered by chunk score. ``per_doc <= 0``
    returns the pool's own top ``k``.
    """
    ranked = sorted(pool, key=lambda h: -h.score)
    if k <= 0:
        return []
    if per_doc <= 0:
        return ranked[:k]
    groups = _by_doc(ranked)
    chosen: set[str] = set()
    for doc in documents(ranked, others_weight=others_weight):
        for h in groups[doc.path][:per_doc]:
            if len(chosen) < k:
                chosen.add(h.chunk_id)
        if len(chosen) >= k:
            break
    for h in ranked:  # fewer documents than k / per_doc: fill, best first
        if len(chosen) >= k:
            break
        chosen.add(h.chunk_id)
    return [h for h in ranked if h.chunk_id in chosen]
