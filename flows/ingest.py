"""The ingest flow: scan -> hash-diff -> chunk -> cached-embed -> validate -> commit/delete."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from netdocs.config import Settings, get_settings
from netdocs.embedding.factory import get_embedder
from netdocs.errors import ConfigError, MassDeleteRefused
from netdocs.ingest.batch import PENDING, Progress
from netdocs.ingest.lock import run_lock
from netdocs.ingest.stats import RunStats
from netdocs.metrics.runs import price_run
from tasks import ingest as t

BULK_MIN_DOCS = 20
BULK_SHARE = 0.25
_progress: Progress | None = None  # set by the CLI for a terminal progress bar


def set_progress(callback: Progress | None) -> None:
    """Install (or remove) a progress callback for runs in this process."""
    global _progress
    _progress = callback


def _batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _is_bulk(to_process: int, stored: int) -> bool:
    """Bulk loads rebuild the HNSW index afterwards instead of maintaining it per row."""
    return to_process > max(BULK_MIN_DOCS, BULK_SHARE * stored)


def _run(
    url: str,
    root: Path,
    policy_path: str | None,
    settings: Settings,
    full: bool,
    allow_mass_delete: bool,
    run_id: uuid.UUID,
    stats: RunStats,
) -> None:
    logger = get_run_logger()
    started = time.perf_counter()
    plan = t.plan_run(url, str(root), policy_path, settings, full)
    stats.time("scan_and_diff_s", time.perf_counter() - started)
    ch = plan.changes
    stats.scanned = len(plan.scan.docs) + len(plan.scan.failures)
    stats.new, stats.changed, stats.unchanged = len(ch.new), len(ch.changed), len(ch.unchanged)
    stats.metadata_only = len(ch.metadata_only)
    stats.failed = list(plan.scan.failures) + list(plan.still_quarantined)
    deletable = t.guard_deletes(plan, settings.mass_delete_ratio, allow_mass_delete)
    if ch.deleted and not plan.scan.complete:
        stats.messages.append(
            f"scan incomplete ({'; '.join(plan.scan.walk_errors[:3])}): "
            f"{len(ch.deleted)} deletion(s) postponed"
        )
    logger.info(
        "%d scanned: %d new, %d changed, %d unchanged, %d metadata-only, %d to delete",
        stats.scanned,
        stats.new,
        stats.changed,
        stats.unchanged,
        stats.metadata_only,
        len(deletable),
    )
    if _progress:
        _progress("total_docs", len(plan.to_process))
    t.update_metadata(url, plan, run_id)
    bulk = _is_bulk(len(plan.to_process), plan.stored_count)
    if bulk:
        t.vector_index(url, settings, present=False)
    try:
        # A three-stage pipeline: batch i+2 is read and chunked while batch i+1 is in the
        # model and batch i is validated and committed. Each stage takes one batch at a
        # time, and reading runs at most two batches ahead of the model.
        embeds: list[PrefectFuture[Any]] = []
        commits: list[PrefectFuture[Any]] = []
        chunk_prev: PrefectFuture[Any] | None = None
        for i, batch in enumerate(_batches(plan.to_process, settings.docs_per_commit_batch)):
            ahead = ([chunk_prev] if chunk_prev else []) + (embeds[i - 2 : i - 1] if i >= 2 else [])
            chunked = t.chunk_batch.submit(
                url,
                str(root),
                batch,
                policy_path,
                settings,
                wait_for=ahead,
            )
            embedded = t.embed_batch.submit(url, chunked, settings, _progress, wait_for=embeds[-1:])
            committed = t.commit_batch.submit(
                url, embedded, policy_path, settings, run_id, _progress, wait_for=commits[-1:]
            )
            chunk_prev = chunked
            embeds.append(embedded)
            commits.append(committed)
        for future in commits:
            stats.add_batch(future.result())
        pending = sum(1 for f in stats.failed if f.error == PENDING)
        if pending:
            stats.messages.append(
                f"embedding provider unavailable (circuit open): {pending} document(s) "
                "pending; the next run picks them up"
            )
    finally:
        if bulk:
            started = time.perf_counter()
            t.vector_index(url, settings, present=True)
            stats.time("vector_index_build_s", time.perf_counter() - started)
    started = time.perf_counter()
    stats.chunks_deleted += t.delete_documents(url, deletable)
    stats.time("delete_s", time.perf_counter() - started)
    stats.deleted = len(deletable)


@flow(name="ingest", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=3))  # type: ignore[arg-type]
def ingest(
    path: str,
    policy: str | None = None,
    full: bool = False,
    allow_mass_delete: bool = False,
) -> dict[str, Any]:
    """Bring the index in step with the folder ``path``; returns the run summary."""
    started = time.perf_counter()
    logger = get_run_logger()
    settings = get_settings()
    root = Path(path).resolve()
    if not root.is_dir():
        raise ConfigError(f"{path}: not a directory")
    policy_path = policy or (str(settings.policy) if settings.policy else None)
    t.load_optional_policy(policy_path)  # fail early, naming the field, before any work
    stats = RunStats(run_id=str(uuid.uuid4()))
    run_id = uuid.UUID(stats.run_id)
    url = t.start_database(settings)
    with run_lock(url):
        reset = t.prepare_index(url, settings)
        if reset:
            logger.warning(reset)
            stats.messages.append(reset)
        t.record_run(url, run_id, "running", {}, str(root))
        try:
            _run(url, root, policy_path, settings, full, allow_mass_delete, run_id, stats)
        except BaseException as e:
            stats.duration_s = time.perf_counter() - started
            status = "refused" if isinstance(e, MassDeleteRefused) else "error"
            t.record_run(url, run_id, status, stats.to_json(), str(root))
            raise
        stats.duration_s = time.perf_counter() - started
        price_run(stats, get_embedder(settings).model_id, settings)
        t.record_run(
            url, run_id, "failed" if stats.failed else "completed", stats.to_json(), str(root)
        )
    create_markdown_artifact(
        key="ingest-summary", markdown=stats.to_markdown(), description="netdocs ingest run"
    )
    logger.info(
        "done in %.1fs: %d chunks embedded, %d cache hits, %d failed",
        stats.duration_s,
        stats.chunks_embedded,
        stats.embedding_cache_hits,
        len(stats.failed),
    )
    return stats.to_json()
