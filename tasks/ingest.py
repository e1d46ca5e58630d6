"""Prefect tasks of the ingest flow. Each wraps one netdocs stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from netdocs.config import Settings
from netdocs.db import connection, database_url
from netdocs.embedding.factory import get_embedder
from netdocs.ingest.batch import PreparedBatch, Progress
from netdocs.ingest.batch import chunk_batch as stage_chunk
from netdocs.ingest.batch import commit_batch as stage_commit
from netdocs.ingest.batch import embed_batch as stage_embed
from netdocs.ingest.isolate import try_write
from netdocs.ingest.plan import Plan, check_deletes, make_plan
from netdocs.ingest.stats import BatchStats
from netdocs.policy import Policy, load_policy
from netdocs.resilience import CircuitBreaker, breaker_snapshots
from netdocs.store import writer
from netdocs.store.breakers import load_snapshots, save_breakers
from netdocs.store.schema import drop_vector_index, ensure_model, ensure_vector_index, migrate
from netdocs.types import DocFailure
from tasks.retry import retry_transient

RETRIES = dict(
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=1),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)


def load_optional_policy(path: str | None) -> Policy | None:
    """The policy file, when one is given."""
    return load_policy(Path(path)) if path else None


@task(name="start-database", **RETRIES)  # type: ignore[call-overload]
def start_database(settings: Settings) -> str:
    """Start/locate the database and apply migrations; returns its URL."""
    url = database_url(settings)
    migrate(url)
    return url


@task(name="prepare-index", **RETRIES)  # type: ignore[call-overload]
def prepare_index(url: str, settings: Settings) -> str | None:
    """Record the embedding model (a change empties the index: the message says so)."""
    embedder = get_embedder(settings)
    with connection(url) as conn:
        breaker = getattr(embedder, "breaker", None)
        if isinstance(breaker, CircuitBreaker):  # an outage seen by an earlier run
            recorded = load_snapshots(conn).get(breaker.provider)
            if recorded is not None:
                breaker.restore(recorded)
        return ensure_model(conn, embedder.model_id, embedder.dim)


@task(name="vector-index", **RETRIES)  # type: ignore[call-overload]
def vector_index(url: str, settings: Settings, present: bool) -> None:
    """Drop the HNSW index before a bulk load, or (re)build it afterwards.

    After the build, ANALYZE refreshes the lexeme statistics the full-text weights come
    from (autovacuum would, but only up to a minute later).
    """
    dim = get_embedder(settings).dim
    with connection(url) as conn:
        if present:
            with conn.transaction():
                ensure_vector_index(conn, dim)
            conn.execute("ANALYZE chunks")
            conn.commit()
        else:
            drop_vector_index(conn, dim)


@task(name="scan-and-diff", **RETRIES)  # type: ignore[call-overload]
def plan_run(url: str, root: str, policy_path: str | None, settings: Settings, full: bool) -> Plan:
    """Scan the folder and diff it against the index."""
    with connection(url) as conn:
        return make_plan(
            conn,
            Path(root),
            load_optional_policy(policy_path),
            include=settings.include,
            exclude=settings.exclude,
            max_bytes=settings.max_file_bytes,
            full=full,
        )


@task(name="guard-deletes", cache_policy=NO_CACHE)
def guard_deletes(plan: Plan, max_ratio: float, allow_mass_delete: bool) -> list[str]:
    """Refuse unusual deletes before any work is done."""
    return check_deletes(plan, max_ratio=max_ratio, allow_mass_delete=allow_mass_delete)


@task(name="update-metadata", **RETRIES)  # type: ignore[call-overload]
def update_metadata(url: str, plan: Plan, run_id: UUID) -> list[DocFailure]:
    """Tags changed, text did not: update rows without re-embedding. A document whose
    tags the database refuses fails alone (returned)."""
    docs = plan.docs
    failed = []
    with connection(url) as conn:
        for doc_id in plan.changes.metadata_only:
            error = try_write(conn, doc_id, writer.update_metadata, docs[doc_id], run_id)
            if error is not None:
                failed.append(DocFailure(doc_id, f"tags could not be stored: {error}"))
    return failed


@task(name="read-and-chunk", **RETRIES)  # type: ignore[call-overload]
def chunk_batch(
    url: str,
    root: str,
    doc_ids: list[str],
    policy_path: str | None,
    settings: Settings,
) -> PreparedBatch:
    """Stage 1: read and chunk one batch of documents; find the chunks not stored yet."""
    with connection(url) as conn:
        return stage_chunk(
            conn,
            Path(root),
            doc_ids,
            policy=load_optional_policy(policy_path),
            embedder=get_embedder(settings),
            max_tokens=settings.chunk_max_tokens,
            max_bytes=settings.max_file_bytes,
        )


@task(name="embed", **RETRIES)  # type: ignore[call-overload]
def embed_batch(
    url: str,
    batch: PreparedBatch,
    settings: Settings,
    progress: Progress | None = None,
) -> PreparedBatch:
    """Stage 2: embed one chunked batch into the shared embedding cache."""
    with connection(url) as conn:
        return stage_embed(conn, batch, embedder=get_embedder(settings), progress=progress)


@task(name="validate-and-commit", **RETRIES)  # type: ignore[call-overload]
def commit_batch(
    url: str,
    batch: PreparedBatch,
    policy_path: str | None,
    settings: Settings,
    run_id: UUID,
    progress: Progress | None = None,
) -> BatchStats:
    """Stage 3: validate one embedded batch and commit each document on its own."""
    from netdocs.ingest.gate import get_validator

    embedder = get_embedder(settings)
    validator = get_validator(embedder, load_optional_policy(policy_path))
    with connection(url) as conn:
        return stage_commit(
            conn, batch, embedder=embedder, validator=validator, run_id=run_id, progress=progress
        )


@task(name="delete-documents", **RETRIES)  # type: ignore[call-overload]
def delete_documents(url: str, doc_ids: list[str]) -> int:
    """Remove deleted documents and their chunks."""
    with connection(url) as conn:
        return writer.delete_documents(conn, doc_ids)


@task(name="record-run", **RETRIES)  # type: ignore[call-overload]
def record_run(url: str, run_id: UUID, status: str, stats: dict[str, Any], source: str) -> None:
    """Record the run's start (status 'running') or its end with the summary."""
    with connection(url) as conn:
        if status == "running":
            writer.start_run(conn, run_id, source)
        else:
            writer.finish_run(conn, run_id, status, stats)
            save_breakers(conn, breaker_snapshots())  # visible in `netdocs status`
