"""Per-document diversity and file choice over a ranked candidate pool (pure).

The fused top k is often one file several times. :func:`diversify` chooses the documents
first, by a file-level score over the candidate pool (its best chunk + ``OTHERS_WEIGHT`` x
its other chunks, each weighted by rank), takes the chosen documents' chunks in score order
but never more than ``per_doc`` of one document unless fewer documents match, and keeps
them in chunk-score order: aggregation decides *which* files, never the order of chunks
(ordering by it pushes single-chunk answers down).

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
#: Weight of a document's other chunks in its file-level score (from issue 17's measurement).
OTHERS_WEIGHT = 0.3
#: The rank offset of the file-level score (the fusion's RRF k).
RANK_K = 5


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


def _ranked(pool: Sequence[Hit], in_order: bool = False) -> list[Hit]:
    """``pool`` best first (stable: pool order breaks ties); ``in_order``: the pool's own
    order is the ranking (a reranker reordered it without rescoring)."""
    return list(pool) if in_order else sorted(pool, key=lambda h: -h.score)


def rank_score(rank: int) -> float:
    """The file-level weight of the candidate at 1-based ``rank``: ``1 / (RANK_K + rank)``.

    Ranks, not raw scores: cosine and text-rank scores are flat, so summing them lifted long
    documents with many weak chunks (measured on the dev questions)."""
    return 1.0 / (RANK_K + rank)


def file_score(scores: Sequence[float], others_weight: float = OTHERS_WEIGHT) -> float:
    """Best score + ``others_weight`` x the sum of the others (``scores`` best first)."""
    return scores[0] + others_weight * sum(scores[1:]) if scores else 0.0


def _groups(ranked: Sequence[Hit]) -> dict[str, list[tuple[int, Hit]]]:
    """(1-based rank, hit) per document, best first; documents in order of their best chunk."""
    out: dict[str, list[tuple[int, Hit]]] = {}
    for rank, h in enumerate(ranked, start=1):
        out.setdefault(h.path, []).append((rank, h))
    return out


def documents(
    pool: Sequence[Hit],
    *,
    others_weight: float = OTHERS_WEIGHT,
    limit: int | None = None,
    in_order: bool = False,
) -> list[DocHit]:
    """The pool's documents by file-level score over ranks (ties: the better best chunk)."""
    docs = [
        DocHit(
            path=path,
            heading=hits[0][1].heading,
            score=file_score([rank_score(r) for r, _ in hits], others_weight),
            chunks=len(hits),
            chunk_id=hits[0][1].chunk_id,
            chunk_ids=tuple(h.chunk_id for _, h in hits),
        )
        for path, hits in _groups(_ranked(pool, in_order)).items()
    ]
    docs.sort(key=lambda d: -d.score)  # stable: _groups lists documents by best chunk
    return docs if limit is None else docs[:limit]


def _distinct(ranked: list[Hit]) -> list[Hit]:
    """``ranked`` without the chunks whose text repeats an earlier one's."""
    seen: set[str] = set()
    out = []
    for h in ranked:
        text = " ".join(h.text.split()).casefold()
        if text not in seen:
            seen.add(text)
            out.append(h)
    return out


def diversify(
    pool: Sequence[Hit],
    k: int,
    per_doc: int,
    *,
    others_weight: float = OTHERS_WEIGHT,
    in_order: bool = False,
) -> list[Hit]:
    """The top ``k`` of ``pool`` with at most ``per_doc`` chunks of one document.

    The ``k`` documents with the best file-level scores are chosen; the pool's chunks of
    those documents are then taken in chunk-score order, skipping a document's chunks
    beyond ``per_doc``, until ``k`` are taken; if that leaves slots (too few documents
    match), the pool's remaining chunks fill them, best first. The result is ordered by
    chunk score (``in_order``: by the pool's own order). ``per_doc <= 0`` returns the
    pool's own top ``k``. With diversity on, a chunk whose text (case and spacing aside)
    repeats a better-ranked one is left out: copies of one text under many paths would
    otherwise take every slot.
    """
    ranked = _ranked(pool, in_order)
    if k <= 0:
        return []
    if per_doc <= 0:
        return ranked[:k]
    ranked = _distinct(ranked)
    docs = {d.path for d in documents(ranked, others_weight=others_weight, limit=k, in_order=True)}
    taken: dict[str, int] = {}
    chosen: set[str] = set()
    for h in ranked:
        if len(chosen) >= k:
            break
        if h.path in docs and taken.get(h.path, 0) < per_doc:
            chosen.add(h.chunk_id)
            taken[h.path] = taken.get(h.path, 0) + 1
    for h in ranked:  # fewer documents than k / per_doc: fill, best first
        if len(chosen) >= k:
            break
        chosen.add(h.chunk_id)
    return [h for h in ranked if h.chunk_id in chosen]
