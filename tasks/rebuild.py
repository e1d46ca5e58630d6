"""Prefect tasks of a model rebuild (see netdocs.ingest.rebuild, netdocs.store.generation)."""

from __future__ import annotations

from uuid import UUID

from prefect import task

from netdocs.config import Settings
from netdocs.db import connection
from netdocs.embedding.factory import get_embedder
from netdocs.ingest import rebuild as stages
from netdocs.ingest.batch import PreparedBatch, Progress
from netdocs.ingest.lock import ensure_held
from netdocs.ingest.stats import BatchStats
from netdocs.policy import Policy
from netdocs.store import generation
from tasks.ingest import RETRIES


@task(name="rebuild-embed", **RETRIES)  # type: ignore[call-overload]
def embed_batch(
    url: str, batch: PreparedBatch, settings: Settings, progress: Progress | None = None
) -> stages.RebuiltBatch:
    """Embed every chunk of one batch with the new model into the cache."""
    with connection(url) as conn:
        return stages.embed_all(conn, batch, embedder=get_embedder(settings), progress=progress)


@task(name="rebuild-validate", **RETRIES)  # type: ignore[call-overload]
def validate_batch(
    url: str, batch: stages.RebuiltBatch, policy: Policy | None, settings: Settings
) -> stages.RebuiltBatch:
    """Run the data-quality gate on one batch of the new generation (nothing committed)."""
    from netdocs.ingest.gate import get_validator

    embedder = get_embedder(settings)
    validator = get_validator(embedder, policy)
    with connection(url) as conn:
        return stages.validate(conn, batch, embedder=embedder, validator=validator)


@task(name="rebuild-embed-kept", **RETRIES)  # type: ignore[call-overload]
def embed_kept(url: str, keep: list[str], settings: Settings) -> tuple[BatchStats, set[str]]:
    """New vectors for the served chunks of documents the rebuild keeps as they are."""
    with connection(url) as conn:
        chunks = generation.stored_chunks(conn, keep)
        return stages.embed_stored(conn, get_embedder(settings), chunks)


@task(name="rebuild-swap", **RETRIES)  # type: ignore[call-overload]
def swap(
    url: str,
    rebuild: generation.Rebuild,
    batches: list[stages.RebuiltBatch],
    run_id: UUID,
) -> generation.SwapStats:
    """Replace the served generation by the new one in one transaction (not once the
    run's ingest lock is lost: another run may be changing the index)."""
    ensure_held(url, probe=True)
    ready = [item for b in batches for item in b.ready]
    rejected = {k: v for b in batches for k, v in b.rejected.items()}
    with connection(url) as conn:
        return generation.swap(conn, rebuild, ready, rejected, run_id)


@task(name="served-documents", **RETRIES)  # type: ignore[call-overload]
def served_documents(url: str) -> list[str]:
    """The ids of every served document."""
    with connection(url) as conn:
        return [r[0] for r in conn.execute("SELECT doc_id FROM documents ORDER BY 1")]
