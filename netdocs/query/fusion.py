"""Reciprocal rank fusion (Cormack et al., 2009), and the fusion of the dense and full-text
hit lists with it: pure, deterministic."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import TypeVar

from netdocs.query.results import Hit

K = TypeVar("K", bound=Hashable)

#: The fusion constants, chosen on the dev questions (eval/questions.yaml) by
#: eval/tune_fusion.py and confirmed on held-out ones (eval/heldout.yaml): a small k trusts
#: the top of each list; the dense list counts 1.25 times the full-text one. Plain RRF
#: (k=60, weight 1) scored MRR@10 0.695 on dev and 0.727 held out; these 0.766 and 0.735.
RRF_K = 5
#: Weight of the dense list relative to the full-text list (1.0 = plain RRF).
DENSE_WEIGHT = 1.25


def rrf(
    rankings: Sequence[Sequence[K]],
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[K, float]]:
    """Fuse ranked lists: ``score(d) = sum over lists of w / (k + rank)``, rank from 1.

    ``weights`` (default all 1.0) gives one weight per list. Duplicates within one list
    count once (at their best rank). Ties are broken by the best rank reached in any list,
    then by first appearance, so the output is deterministic.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings) or any(w < 0 for w in weights):
        raise ValueError("weights: one non-negative weight per ranking")
    scores: dict[K, float] = {}
    best: dict[K, int] = {}
    order: dict[K, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[K] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            best[key] = min(best.get(key, rank), rank)
            order.setdefault(key, len(order))
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], order[kv[0]]))


def fuse(
    dense: Sequence[Hit],
    text: Sequence[Hit],
    k: int,
    rrf_k: int = RRF_K,
    dense_weight: float = DENSE_WEIGHT,
) -> list[Hit]:
    """Weighted reciprocal rank fusion of the two lists; each hit keeps both lists' evidence."""
    by_id: dict[str, Hit] = {}
    for h in text:
        by_id[h.chunk_id] = h
    for h in dense:
        other = by_id.get(h.chunk_id)
        by_id[h.chunk_id] = (
            h if other is None else replace(h, text_rank=other.text_rank, all_terms=other.all_terms)
        )
    rankings = [[h.chunk_id for h in dense], [h.chunk_id for h in text]]
    fused = rrf(rankings, k=rrf_k, weights=[dense_weight, 1.0])
    return [replace(by_id[cid], score=score) for cid, score in fused[:k]]
