"""Prefect tasks of the ingest flow. Each wraps one netdocs stage."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from netdocs.cache.store import prune_dead
from netdocs.config import Settings
from netdocs.db import connection, database_url
from netdocs.embedding.factory import get_embedder
from netdocs.ingest import chunker_state
from netdocs.ingest.batch import PreparedBatch, Progress
from netdocs.ingest.batch import chunk_batch as stage_chunk
from netdocs.ingest.batch import commit_batch as stage_commit
from netdocs.ingest.batch import embed_batch as stage_embed
from netdocs.ingest.isolate import try_write
from netdocs.ingest.lock import ensure_held, fenced
from netdocs.ingest.plan import Plan, check_deletes, make_plan
from netdocs.ingest.stats import BatchStats
from netdocs.policy import Policy, load_policy
from netdocs.resilience import CircuitBreaker, breaker_snapshots
from netdocs.store import role_indexes, writer
from netdocs.store.breakers import load_snapshots, save_breakers
from netdocs.store.generation import Rebuild, prepare_model
from netdocs.store.policy_store import load_stored_policy, store_policy
from netdocs.store.schema import drop_vector_index, ensure_vector_index, migrate
from netdocs.store.stale import StaleDoc, list_stale, mark_stale
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


@task(name="start-database", persist_result=False, **RETRIES)  # type: ignore[call-overload]
def start_database(settings: Settings) -> str:
    """Start/locate the database and apply migrations; returns its URL."""
    url = database_url(settings)
    migrate(url)
    return url


@task(name="prepare-index", **RETRIES)  # type: ignore[call-overload]
def prepare_index(url: str, settings: Settings, reembed: bool = False) -> Rebuild | None:
    """Record the embedding model; a different one is a rebuild (``reembed``) or refused."""
    embedder = get_embedder(settings)
    with connection(url) as conn:
        breaker = getattr(embedder, "breaker", None)
        if isinstance(breaker, CircuitBreaker):  # an outage seen by an earlier run
            recorded = load_snapshots(conn).get(breaker.provider)
            if recorded is not None:
                breaker.restore(recorded)
        return prepare_model(conn, embedder.model_id, embedder.dim, reembed=reembed)


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
            with conn.transaction():
                role_indexes.drop_all(conn)


@task(name="role-indexes", **RETRIES)  # type: ignore[call-overload]
def sync_role_indexes(url: str, settings: Settings, policy: Policy | None) -> list[str]:
    """Build the HNSW index of each selective role and drop those no role needs
    (:mod:`netdocs.store.role_indexes`); what was done."""
    dim = get_embedder(settings).dim
    with connection(url) as conn, conn.transaction():
        return role_indexes.sync(conn, dim, policy)


@task(name="cache-prune", **RETRIES)  # type: ignore[call-overload]
def prune_cache(url: str, settings: Settings) -> int:
    """Delete the query-cache entries the run's changes made unservable (their texts)."""
    with connection(url) as conn:
        return prune_dead(conn, settings.query_cache_ttl)


@task(name="index-policy", **RETRIES)  # type: ignore[call-overload]
def index_policy(url: str, given: Policy | None) -> Policy | None:
    """The run's policy: the one given, else the one stored in the index (else None)."""
    if given is not None:
        return given
    with connection(url) as conn:
        stored = load_stored_policy(conn)
        conn.commit()
    return stored.policy() if stored else None


@task(name="scan-and-diff", **RETRIES)  # type: ignore[call-overload]
def plan_run(
    url: str,
    root: str,
    policy: Policy | None,
    settings: Settings,
    full: bool,
    only: tuple[str, ...] = (),
) -> Plan:
    """Scan the folder (inside the path scope ``only``, if any) and diff it against the index."""
    with connection(url) as conn:
        return make_plan(
            conn,
            Path(root),
            policy,
            include=settings.include,
            exclude=settings.exclude,
            max_bytes=settings.max_file_bytes,
            full=full,
            chunker=chunker_state.signature(settings.chunk_max_tokens),
            only=only,
            stat_fast_path=settings.stat_fast_path,
            racy_margin_s=settings.stat_racy_margin_s,
        )


@task(name="record-chunker", **RETRIES)  # type: ignore[call-overload]
def record_chunker(url: str, settings: Settings, behind: list[str] | None = None) -> None:
    """Record that the index's chunks follow the current chunking rules; ``behind``: indexed
    documents still on older ones, to be re-chunked by the next run that reads them."""
    with connection(url) as conn, conn.transaction():
        writer.mark_rechunk(conn, behind or [])
        chunker_state.record(conn, chunker_state.signature(settings.chunk_max_tokens))


@task(name="guard-deletes", cache_policy=NO_CACHE)
def guard_deletes(plan: Plan, max_ratio: float, allow_mass_delete: bool) -> list[str]:
    """Refuse unusual deletes before any work is done."""
    return check_deletes(plan, max_ratio=max_ratio, allow_mass_delete=allow_mass_delete)


@task(name="apply-policy-and-tags", **RETRIES)  # type: ignore[call-overload]
def apply_policy(
    url: str, policy: Policy | None, retag: dict[str, tuple[str, ...]], run_id: UUID
) -> tuple[bool, list[DocFailure]]:
    """Store the run's policy (if given) and give indexed documents their new tags (policy,
    path or front matter changed; content changed or unreadable) in ONE transaction, so a
    search never pairs the new roles with the old tags or the reverse (a tag renamed in
    the policy would otherwise expose documents for as long as the re-tagging took, or
    until the next run if it died). Returns whether the stored policy changed, and the
    documents whose tags the database refused: those are withdrawn from every restricted
    role (no tags) and fail alone, rather than keep tags the policy no longer gives."""
    ensure_held(url)  # a lost ingest lock stops the run here
    failed = []
    with connection(url) as conn, conn.transaction():
        changed = policy is not None and store_policy(conn, policy, run_id)
        for doc_id, tags in sorted(retag.items()):
            error = try_write(conn, doc_id, writer.retag, doc_id, tags, run_id)
            if error is not None:
                writer.retag(conn, doc_id, (), run_id)
                failed.append(
                    DocFailure(
                        doc_id,
                        f"tags could not be stored: {error}; withdrawn from restricted roles",
                    )
                )
    return changed, failed


@task(name="record-stale", **RETRIES)  # type: ignore[call-overload]
def record_stale(
    url: str, stale: dict[str, str], settings: Settings, within: list[str] | None = None
) -> list[StaleDoc]:
    """Mark the documents left on an older version (and clear the others, only those in
    ``within`` when given); list them."""
    with connection(url) as conn:
        mark_stale(conn, stale, within)
        found = list_stale(conn, settings.stale_max_age)
        conn.commit()
        return found


@task(name="read-and-chunk", **RETRIES)  # type: ignore[call-overload]
def chunk_batch(
    url: str,
    root: str,
    doc_ids: list[str],
    policy: Policy | None,
    settings: Settings,
) -> PreparedBatch:
    """Stage 1: read and chunk one batch of documents; find the chunks not stored yet."""
    ensure_held(url)  # a lost ingest lock stops the run here
    with connection(url) as conn:
        return stage_chunk(
            conn,
            Path(root),
            doc_ids,
            policy=policy,
            embedder=get_embedder(settings),
            max_tokens=settings.chunk_max_tokens,
            max_bytes=settings.max_file_bytes,
            exclude=settings.exclude,
        )


@task(name="embed", **RETRIES)  # type: ignore[call-overload]
def embed_batch(
    url: str,
    batch: PreparedBatch,
    settings: Settings,
    progress: Progress | None = None,
) -> PreparedBatch:
    """Stage 2: embed one chunked batch into the shared embedding cache."""
    ensure_held(url)  # a lost ingest lock stops the run here
    with connection(url) as conn:
        return stage_embed(conn, batch, embedder=get_embedder(settings), progress=progress)


@task(name="validate-and-commit", **RETRIES)  # type: ignore[call-overload]
def commit_batch(
    url: str,
    batch: PreparedBatch,
    policy: Policy | None,
    settings: Settings,
    run_id: UUID,
    progress: Progress | None = None,
    fence: str | None = None,
) -> BatchStats:
    """Stage 3: validate one embedded batch and commit each document on its own, while
    ``fence`` is the index's (netdocs.ingest.lock: on any worker, not only this process)."""
    ensure_held(url)  # a lost ingest lock stops the run here
    from netdocs.ingest.gate import get_validator

    embedder = get_embedder(settings)
    validator = get_validator(embedder, policy)
    # A retry (after a connection error) starts from the counters as they came in, not
    # from those the failed attempt added to: each document is counted once.
    batch = replace(batch, stats=copy.deepcopy(batch.stats))
    with connection(url) as conn, fenced(fence):
        return stage_commit(
            conn, batch, embedder=embedder, validator=validator, run_id=run_id, progress=progress
        )


@task(name="delete-documents", **RETRIES)  # type: ignore[call-overload]
def delete_documents(url: str, doc_ids: list[str]) -> int:
    """Remove deleted documents and their chunks."""
    ensure_held(url)  # a lost ingest lock stops the run here
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
