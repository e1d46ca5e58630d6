"""One input the embedding provider refuses must not fail the documents beside it.

A provider answers a request it finds invalid (an input over its length limit, one its
content filter refuses) with a 4xx for the whole request: every document of the batch
would fail, and the same neighbours again on every run. When that happens the batch is
embedded again one document at a time, so only the refused document fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netdocs.embedding.cache import CacheStats
from netdocs.errors import EmbeddingError, EmbeddingProviderUnavailable
from netdocs.resilience.retry import REFUSED_INPUT, status_of
from netdocs.types import Chunk, DocFailure, SourceDoc

Ready = list[tuple[SourceDoc, list[Chunk]]]


def refused_input(error: BaseException) -> bool:
    """True when the provider refused the request's content (see REFUSED_INPUT)."""
    cause = error.__cause__
    return cause is not None and status_of(cause) in REFUSED_INPUT


def embed_each(
    ready: Ready,
    new_chunk_ids: set[str],
    embed: Callable[[Sequence[Chunk]], CacheStats],
    pending: str,
) -> tuple[Ready, list[DocFailure], CacheStats]:
    """Embed each document's new chunks on its own: (documents embedded, failures, totals).

    A document the provider refuses fails with the provider's error; once its circuit is
    open, that document and the rest are ``pending`` (the next run picks them up).
    """
    kept: Ready = []
    failed: list[DocFailure] = []
    total = CacheStats()
    for i, (doc, chunks) in enumerate(ready):
        try:
            got = embed([c for c in chunks if c.chunk_id in new_chunk_ids])
        except EmbeddingProviderUnavailable:
            failed += [DocFailure(d.doc_id, pending) for d, _ in ready[i:]]
            break
        except EmbeddingError as e:
            failed.append(DocFailure(doc.doc_id, f"embedding failed: {e}"))
            continue
        kept.append((doc, chunks))
        for name in ("hits", "embedded", "duplicates", "embedded_tokens", "saved_tokens"):
            setattr(total, name, getattr(total, name) + getattr(got, name))
        total.embed_s += got.embed_s
    return kept, failed, total
