"""The data-quality gate for ingestion, built once per process and model."""

from __future__ import annotations

import threading

from netdocs.embedding.base import Embedder
from netdocs.ingest.batch import Validator
from netdocs.policy import Policy

_lock = threading.Lock()
_cache: dict[tuple[str, frozenset[str] | None], Validator] = {}


def get_validator(embedder: Embedder, policy: Policy | None) -> Validator:
    """A ChunkValidator for this embedder and tag vocabulary."""
    from netdocs.validation import ChunkValidator

    vocab = policy.vocabulary if policy and policy.vocabulary else None
    key = (embedder.model_id, vocab)
    with _lock:
        if key not in _cache:
            _cache[key] = ChunkValidator(
                dim=embedder.dim,
                max_tokens=embedder.max_tokens,
                normalized=embedder.normalized,
                tag_vocabulary=set(vocab) if vocab else None,
            )
        return _cache[key]
