"""The stages of a model rebuild: every document re-chunked and embedded with the new model
into the embedding cache, validated, but not committed; the served chunks stay untouched
until ``netdocs.store.generation.swap`` replaces them all in one transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import psycopg

from netdocs.embedding.base import Embedder
from netdocs.embedding.cache import cached_embed, lookup
from netdocs.errors import EmbeddingError
from netdocs.ingest.batch import PENDING, PreparedBatch, Progress, Validator
from netdocs.ingest.batch import embed_batch as stage_embed
from netdocs.ingest.stats import BatchStats
from netdocs.store.generation import StoredChunk
from netdocs.types import Chunk, DocFailure, SourceDoc


@dataclass
class RebuiltBatch:
    """One batch of the new generation, embedded and validated, waiting for the swap."""

    ready: list[tuple[SourceDoc, list[Chunk]]] = field(default_factory=list)
    rejected: dict[str, tuple[SourceDoc, list[dict[str, object]]]] = field(default_factory=dict)
    unembedded: set[str] = field(default_factory=set)  # no new vectors yet: blocks the swap
    stats: BatchStats = field(default_factory=BatchStats)


def embed_all(
    conn: psycopg.Connection,
    batch: PreparedBatch,
    *,
    embedder: Embedder,
    progress: Progress | None = None,
) -> RebuiltBatch:
    """Embed EVERY chunk of the batch with the new model (stored chunk ids do not count:
    their vectors are the old model's), through the cache."""
    out = RebuiltBatch(stats=batch.stats)
    out.unembedded = {f.doc_id for f in batch.stats.failed if f.error == PENDING}
    batch.new_chunk_ids = {c.chunk_id for _, cs in batch.ready for c in cs}
    batch.stats.chunks_reused = 0
    before = [d.doc_id for d, _ in batch.ready]
    stage_embed(conn, batch, embedder=embedder, progress=progress)
    kept = {d.doc_id for d, _ in batch.ready}
    out.unembedded |= {d for d in before if d not in kept}
    out.ready = batch.ready
    return out


def validate(
    conn: psycopg.Connection,
    batch: RebuiltBatch,
    *,
    embedder: Embedder,
    validator: Validator | None,
) -> RebuiltBatch:
    """Run the data-quality gate on the batch's new vectors (read from the cache).

    Rejected documents keep their served version (re-embedded at the swap) and are
    quarantined by it; a vector missing from the cache blocks the swap."""
    stats = batch.stats
    started = time.perf_counter()
    chunks = [c for _, cs in batch.ready for c in cs]
    cached = lookup(conn, embedder.model_id, [c.text_hash for c in chunks])
    conn.commit()
    missing = {c.doc_id for c in chunks if c.text_hash not in cached}
    if missing:
        batch.unembedded |= missing
        stats.failed += [DocFailure(d, "embedding missing from the cache") for d in missing]
        batch.ready = [(d, cs) for d, cs in batch.ready if d.doc_id not in missing]
        chunks = [c for c in chunks if c.doc_id not in missing]
    if validator is not None and chunks:
        vectors = np.stack([cached[c.text_hash] for c in chunks])
        report = validator.validate(chunks, vectors, {d.doc_id: d.tags for d, _ in batch.ready})
        for doc, _ in batch.ready:
            reasons = [asdict(f) for f in report.failures.get(doc.doc_id, [])]
            if reasons:
                batch.rejected[doc.doc_id] = (doc, reasons)
                names = ", ".join(sorted({str(r.get("expectation")) for r in reasons}))
                stats.failed.append(
                    DocFailure(doc.doc_id, f"quarantined by the data-quality gate ({names})")
                )
        batch.ready = [(d, cs) for d, cs in batch.ready if d.doc_id not in batch.rejected]
        stats.validation = {
            "checked_chunks": report.checked_chunks,
            "expectations_evaluated": report.expectations_evaluated,
            "validation_s": report.duration_s,
            "documents_rejected": len(batch.rejected),
        }
    stats.time("validate_s", time.perf_counter() - started)
    return batch


def embed_stored(
    conn: psycopg.Connection, embedder: Embedder, chunks: Sequence[StoredChunk]
) -> tuple[BatchStats, set[str]]:
    """New vectors for served chunks kept as they are; returns stats and the documents
    whose vectors could not be computed (they block the swap)."""
    stats = BatchStats()
    if not chunks:
        return stats, set()
    try:
        _, cstats = cached_embed(
            conn,
            embedder,
            [c.embed_text for c in chunks],
            [c.text_hash for c in chunks],
            return_vectors=False,
        )
    except EmbeddingError as e:
        docs = sorted({c.doc_id for c in chunks})
        stats.failed = [DocFailure(d, f"embedding failed (kept version): {e}") for d in docs]
        return stats, set(docs)
    stats.chunks_embedded, stats.embedding_cache_hits = cstats.embedded, cstats.hits
    stats.embed_s = cstats.embed_s
    return stats, set()
