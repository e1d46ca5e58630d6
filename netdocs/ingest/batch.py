"""Process a batch of documents in three stages: (1) read and chunk; (2) cached-embed;
(3) fetch vectors, validate, commit each document in its own transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import numpy as np
import psycopg

from netdocs.chunking import chunk_document
from netdocs.embedding.base import Embedder, Vectors
from netdocs.embedding.cache import CacheStats, cached_embed, lookup
from netdocs.errors import EmbeddingError, EmbeddingProviderUnavailable
from netdocs.ingest.isolate import try_write, why
from netdocs.ingest.split import embed_each, refused_input
from netdocs.ingest.stats import BatchStats
from netdocs.policy import Policy
from netdocs.sources import read_document, read_failure
from netdocs.store.writer import CommitStats, commit_document, existing_chunk_ids, quarantine
from netdocs.types import Chunk, DocFailure, SourceDoc

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
#: The failure recorded for documents not attempted because the embedding circuit is open.
PENDING = "embedding provider unavailable (circuit open): pending"


def _provider_available(embedder: Embedder) -> bool:
    """False while a remote embedder's circuit breaker is open (local models: always)."""
    available = getattr(embedder, "available", None)
    return bool(available()) if callable(available) else True


class Validator(Protocol):
    """The data-quality gate's interface (see netdocs.validation)."""

    def validate(
        self, chunks: Sequence[Chunk], vectors: Vectors, tags_by_doc: dict[str, Sequence[str]]
    ) -> Any: ...


def load_and_chunk(
    root: Path,
    doc_ids: Sequence[str],
    policy: Policy | None,
    embedder: Embedder,
    *,
    max_tokens: int,
    max_bytes: int,
    exclude: Sequence[str] = (),
) -> tuple[list[tuple[SourceDoc, list[Chunk]]], list[DocFailure]]:
    """Re-read and chunk documents; problems become failures naming the file."""
    ready, failed = [], []
    limit = min(max_tokens, embedder.max_tokens)
    for doc_id in doc_ids:
        try:
            doc = read_document(root, doc_id, policy, max_bytes, exclude)
        except FileNotFoundError:
            continue  # vanished since the scan: the next run deletes it
        except ValueError as e:
            failed.append(read_failure(doc_id, e))
            continue
        except OSError as e:
            failed.append(DocFailure(doc_id, str(e.strerror or e)))
            continue
        except Exception as e:  # an unforeseen parse error fails this file, not the batch
            failed.append(DocFailure(doc_id, f"cannot read: {type(e).__name__}: {e}"))
            continue
        try:
            chunks = chunk_document(doc.doc_id, doc.text, embedder.count_tokens, limit)
        except Exception as e:  # a chunker bug must not stop the other documents
            log.exception("chunking failed for %s", doc_id)
            failed.append(DocFailure(doc_id, f"chunking failed: {type(e).__name__}: {e}"))
            continue
        # No chunks (emptied, or only headings / front matter) is a valid version: committing
        # it removes the previous version's chunks from the results.
        ready.append((doc, chunks))
    return ready, failed


@dataclass
class PreparedBatch:
    """A batch whose chunks are embedded (vectors wait in the embedding cache)."""

    ready: list[tuple[SourceDoc, list[Chunk]]] = field(default_factory=list)
    new_chunk_ids: set[str] = field(default_factory=set)  # chunks not stored yet
    stats: BatchStats = field(default_factory=BatchStats)


def chunk_batch(
    conn: psycopg.Connection,
    root: Path,
    doc_ids: Sequence[str],
    *,
    policy: Policy | None,
    embedder: Embedder,
    max_tokens: int,
    max_bytes: int,
    exclude: Sequence[str] = (),
) -> PreparedBatch:
    """Stage 1: read and chunk a batch, and find the chunks not stored yet."""
    out = PreparedBatch()
    stats = out.stats
    if not _provider_available(embedder):  # circuit open: do not even read the batch
        stats.failed = [DocFailure(d, PENDING) for d in doc_ids]
        return out
    started = time.perf_counter()
    out.ready, stats.failed = load_and_chunk(
        root, doc_ids, policy, embedder, max_tokens=max_tokens, max_bytes=max_bytes, exclude=exclude
    )
    stats.time("read_and_chunk_s", time.perf_counter() - started)
    existing = existing_chunk_ids(conn, [d.doc_id for d, _ in out.ready])
    conn.commit()
    out.new_chunk_ids = {
        c.chunk_id for _, cs in out.ready for c in cs if c.chunk_id not in existing
    }
    stats.chunks_reused = sum(len(chunks) for _, chunks in out.ready) - len(out.new_chunk_ids)
    stats.reused_tokens = sum(
        c.token_count for _, cs in out.ready for c in cs if c.chunk_id not in out.new_chunk_ids
    )
    return out


def embed_batch(
    conn: psycopg.Connection,
    batch: PreparedBatch,
    *,
    embedder: Embedder,
    progress: Progress | None = None,
) -> PreparedBatch:
    """Stage 2: embed the batch's new chunks through the shared embedding cache.

    The vectors are written to the cache, so stage 3 (possibly on another worker) fetches
    them by content hash; nothing large travels between the stages. When the provider is
    unavailable the batch's documents become failures and nothing of it is committed.
    """
    stats = batch.stats

    def embed(chunks: Sequence[Chunk]) -> CacheStats:
        return cached_embed(
            conn,
            embedder,
            [c.embed_text for c in chunks],
            [c.text_hash for c in chunks],
            on_progress=(lambda n: progress("chunks", n)) if progress else None,
            return_vectors=False,
            tokens=[c.token_count for c in chunks],
        )[1]

    try:
        cstats = embed(
            [c for _, cs in batch.ready for c in cs if c.chunk_id in batch.new_chunk_ids]
        )
    except EmbeddingProviderUnavailable:
        stats.failed += [DocFailure(d.doc_id, PENDING) for d, _ in batch.ready]
        batch.ready, batch.new_chunk_ids = [], set()
        return batch
    except EmbeddingError as e:
        if len(batch.ready) < 2 or not refused_input(e):
            stats.failed += [DocFailure(d.doc_id, f"embedding failed: {e}") for d, _ in batch.ready]
            batch.ready, batch.new_chunk_ids = [], set()
            return batch
        log.warning("the provider refused a batch (%s): embedding its documents one by one", e)
        batch.ready, failed, cstats = embed_each(batch.ready, batch.new_chunk_ids, embed, PENDING)
        stats.failed += failed
        kept = {c.chunk_id for _, cs in batch.ready for c in cs}
        batch.new_chunk_ids &= kept
    stats.chunks_embedded, stats.embedding_cache_hits = cstats.embedded, cstats.hits
    stats.embed_s = cstats.embed_s
    stats.embedding_tokens, stats.cache_saved_tokens = cstats.embedded_tokens, cstats.saved_tokens
    return batch


def commit_batch(
    conn: psycopg.Connection,
    batch: PreparedBatch,
    *,
    embedder: Embedder,
    validator: Validator | None,
    run_id: UUID,
    progress: Progress | None = None,
) -> BatchStats:
    """Stage 3: fetch the vectors from the cache, validate, commit each document alone."""
    stats = batch.stats
    started = time.perf_counter()
    try:
        _commit(conn, batch, embedder, validator, run_id, progress)
    finally:
        stats.time("validate_and_commit_s", time.perf_counter() - started)
    return stats


def _commit(
    conn: psycopg.Connection,
    batch: PreparedBatch,
    embedder: Embedder,
    validator: Validator | None,
    run_id: UUID,
    progress: Progress | None,
) -> None:
    stats = batch.stats
    todo = [c for _, chunks in batch.ready for c in chunks if c.chunk_id in batch.new_chunk_ids]
    cached = lookup(conn, embedder.model_id, [c.text_hash for c in todo])
    conn.commit()
    missing = {c.doc_id for c in todo if c.text_hash not in cached}
    vectors = np.zeros((len(todo), embedder.dim), dtype=np.float32)
    for i, c in enumerate(todo):
        if c.text_hash in cached:
            vectors[i] = cached[c.text_hash]
    rejected, unchecked = _validate(validator, todo, vectors, batch)
    row_of = {c.chunk_id: i for i, c in enumerate(todo)}
    for doc, chunks in batch.ready:
        if doc.doc_id in missing:  # the cache lost an entry: retried next run
            stats.failed.append(DocFailure(doc.doc_id, "embedding missing from the cache"))
            continue
        if doc.doc_id in unchecked:
            stats.failed.append(DocFailure(doc.doc_id, unchecked[doc.doc_id]))
            continue
        if doc.doc_id in rejected:
            stats.failed.append(DocFailure(doc.doc_id, _describe(rejected[doc.doc_id])))
            if try_write(conn, doc.doc_id, quarantine, doc, rejected[doc.doc_id], run_id) is None:
                stats.quarantined += 1
            continue
        doc_vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
        for i, c in enumerate(chunks):
            if c.chunk_id in row_of:
                doc_vectors[i] = vectors[row_of[c.chunk_id]]
        result = CommitStats()
        error = try_write(conn, doc.doc_id, _commit_into, result, doc, chunks, doc_vectors, run_id)
        if error is not None:  # this document's data was refused: it fails alone
            stats.failed.append(DocFailure(doc.doc_id, f"could not be stored: {error}"))
            continue
        stats.chunks_deleted += result.deleted
        stats.committed += 1
        if progress:
            progress("docs", 1)


def _commit_into(
    conn: psycopg.Connection,
    out: CommitStats,
    doc: SourceDoc,
    chunks: list[Chunk],
    vectors: Vectors,
    run_id: UUID,
) -> None:
    done = commit_document(conn, doc, chunks, vectors, run_id)
    out.inserted, out.kept, out.deleted = done.inserted, done.kept, done.deleted


def _validate(
    validator: Validator | None, todo: list[Chunk], vectors: Vectors, batch: PreparedBatch
) -> tuple[dict[str, list[dict[str, object]]], dict[str, str]]:
    """Run the gate on the batch: (rejected doc -> failures, unchecked doc -> error).

    If the gate raises on the batch, each document is checked alone, so a document the
    gate cannot evaluate fails alone instead of the batch.
    """
    if validator is None or not todo:
        return {}, {}
    tags: dict[str, Sequence[str]] = {d.doc_id: d.tags for d, _ in batch.ready}
    try:
        reports = [validator.validate(todo, vectors, tags)]
    except Exception as e:
        log.warning("data-quality gate failed on the batch (%s); checking documents alone", e)
        reports, unchecked = [], {}
        for doc_id in dict.fromkeys(c.doc_id for c in todo):
            rows = [i for i, c in enumerate(todo) if c.doc_id == doc_id]
            try:
                reports.append(validator.validate([todo[i] for i in rows], vectors[rows], tags))
            except Exception as doc_error:
                unchecked[doc_id] = f"data-quality gate could not check it: {why(doc_error)}"
    else:
        unchecked = {}
    rejected = {k: [asdict(f) for r in reports for f in r.failures.get(k, [])] for k in tags}
    batch.stats.validation = {
        "checked_chunks": sum(r.checked_chunks for r in reports),
        "expectations_evaluated": sum(r.expectations_evaluated for r in reports),
        "validation_s": sum(r.duration_s for r in reports),
        "documents_rejected": sum(1 for v in rejected.values() if v),
    }
    return {k: v for k, v in rejected.items() if v}, unchecked


def _describe(failures: list[dict[str, object]]) -> str:
    names = ", ".join(sorted({str(f.get("expectation")) for f in failures}))
    first = failures[0].get("message", "") if failures else ""
    return f"quarantined by the data-quality gate ({names}): {first}"
