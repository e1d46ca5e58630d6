"""The ingest flow: scan -> hash-diff -> chunk -> cached-embed -> validate -> commit/delete."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed
from prefect.utilities.annotations import opaque

from flows.pipeline import process_batches
from flows.rebuild import run_rebuild
from flows.runner import ConfiguredTaskRunner, current_runner
from netdocs.config import Settings, get_settings
from netdocs.embedding.factory import get_embedder
from netdocs.errors import ConfigError, LockLost, MassDeleteRefused
from netdocs.ingest.batch import PENDING, Progress
from netdocs.ingest.isolate import why
from netdocs.ingest.lock import ensure_held, run_lock
from netdocs.ingest.plan import path_retag, read_outside, refused_stale, stale_reasons
from netdocs.ingest.scope import check_patterns, describe
from netdocs.ingest.stats import PARTIAL, RunStats
from netdocs.metrics.runs import price_run
from netdocs.policy import Policy
from netdocs.roots import check_policy_param, confine
from netdocs.safetext import safe_name
from tasks import ingest as t

BULK_MIN_DOCS = 20
BULK_SHARE = 0.25
_progress: Progress | None = None  # set by the CLI for a terminal progress bar


def set_progress(callback: Progress | None) -> None:
    """Install (or remove) a progress callback for runs in this process."""
    global _progress
    _progress = callback


def _is_bulk(to_process: int, stored: int) -> bool:
    """Bulk loads rebuild the HNSW index afterwards instead of maintaining it per row."""
    return to_process > max(BULK_MIN_DOCS, BULK_SHARE * stored)


def _run(
    url: str,
    root: Path,
    given: Policy | None,
    settings: Settings,
    full: bool,
    allow_mass_delete: bool,
    run_id: uuid.UUID,
    stats: RunStats,
    only: tuple[str, ...] = (),
) -> None:
    logger = get_run_logger()
    started = time.perf_counter()
    policy = given if given is not None else t.index_policy(url, given)
    if given is None and policy is not None:
        stats.messages.append(f"no policy given: tags follow {policy.source}")
    plan = t.plan_run(url, str(root), policy, settings, full, only)
    stats.time("scan_and_diff_s", time.perf_counter() - started)
    ch = plan.changes
    stats.count_plan(plan)
    if only and not plan.stored_count and not stats.scanned:
        stats.messages.append(
            f"the scope {describe(only)} matched no document on disk or in the index"
        )
    stats.failed += list(plan.still_quarantined)
    whole: Any = opaque(plan)  # not walked by Prefect looking for futures (20k documents)
    try:
        deletable = t.guard_deletes(whole, settings.mass_delete_ratio, allow_mass_delete)
    except MassDeleteRefused:  # nothing changes; what the folder changed is left stale
        stale = refused_stale(plan, "not updated: the run was refused (mass delete)")
        t.record_stale(url, stale, settings, sorted(stale))
        raise
    if plan.rechunk is not None:
        stats.messages.append(
            f"chunking rules changed ({plan.rechunk[0] or 'unrecorded'} -> {plan.rechunk[1]}): "
            "every document is re-chunked; unchanged chunk texts keep their ids and vectors"
        )
    stats.messages.extend(plan.scan.warnings)
    plan.scan.docs = []  # counted and warned about: not needed while batches run
    if plan.scan.vanished:
        stats.messages.append(
            f"{len(plan.scan.vanished)} file(s) vanished during the scan, treated as absent: "
            + ", ".join(safe_name(v) for v in plan.scan.vanished[:10])
        )
    why_postponed = "deletion postponed"
    if plan.postponed:
        folders = "; ".join(f"{k}: {v}" for k, v in list(plan.scan.incomplete.items())[:3])
        why_postponed = f"deletion postponed: folder not fully walked ({folders})"
        stats.messages.append(
            f"{len(plan.postponed)} deletion(s) postponed under folders not fully walked "
            f"({folders})"
        )
    postponed = sorted(set(ch.deleted) - set(deletable))
    plan.retag.update(path_retag(plan, postponed))
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
    policy_changed = False
    if plan.retag or given is not None:  # a task run costs API calls even with nothing to do
        policy_changed, refused = t.apply_policy(url, given, plan.retag, run_id)
        stats.failed += refused
    if policy_changed and given is not None:
        stats.messages.append(f"access policy {given.source} stored (sha256 {given.sha256[:12]})")
    bulk = _is_bulk(len(plan.to_process), plan.index_count)
    if bulk:
        t.vector_index(url, settings, present=False)
    try:
        runner = current_runner()
        progress = None if runner and runner.distributed else _progress
        process_batches(url, root, plan.to_process, policy, settings, run_id, stats, progress)
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
    ensure_held(url, probe=True)  # still exclusive? else LockLost: no deletes, run aborted
    started = time.perf_counter()
    outside, held = read_outside(
        plan,
        stats.failed,
        deletable,
        max_ratio=settings.mass_delete_ratio,
        allow_mass_delete=allow_mass_delete,
    )
    if held:
        stats.messages.append(
            f"{len(held)} file(s) led outside the root when read; with this run's other "
            f"deletions that passes NETDOCS_MASS_DELETE_RATIO={settings.mass_delete_ratio:g}, "
            "so they were not deleted (kept stale; --allow-mass-delete to delete them)"
        )
    deletable = [*deletable, *outside]
    stats.chunks_deleted += t.delete_documents(url, deletable)
    stats.time("delete_s", time.perf_counter() - started)
    if bulk or policy_changed or plan.to_process or deletable:  # chunks or roles changed
        stats.messages.extend(t.sync_role_indexes(url, settings, policy))
        t.prune_cache(url, settings)  # no cached text of a deleted or superseded version
    stats.deleted = len(deletable)
    # The chunking signature is recorded once no processed document failed for a reason a
    # rerun can fix (else the next run re-chunks again); a quarantined document is retried
    # only when its content changes, as always. Indexed documents this run could not read
    # (or whose deletion waits) keep their old chunks: marked, so that the first run that
    # reads them again re-chunks them, even if their content has not changed.
    processed = set(plan.to_process)
    if not only and not any(  # a scoped run re-chunks its scope only: the rest is not done
        f.doc_id in processed and not f.error.startswith("quarantined") for f in stats.failed
    ):
        behind = (plan.scan.unreadable & plan.stored_meta.keys()) | set(postponed)
        t.record_chunker(url, settings, sorted(behind) if plan.rechunk else [])
    stale = stale_reasons(plan, stats.failed, postponed, why_postponed, held)
    within = sorted(plan.stored_meta) if only else None  # a scoped run: its documents only
    stats.stale = [s.to_json() for s in t.record_stale(url, stale, settings, within)]
    withdrawn = sum(1 for s in stats.stale if s["withdrawn"])
    if stats.stale:
        stats.messages.append(
            f"{len(stats.stale)} document(s) served from an older version, {withdrawn} of them "
            f"withdrawn (stale longer than NETDOCS_STALE_MAX_AGE={settings.stale_max_age})"
        )


def _finish(
    url: str,
    run_id: uuid.UUID,
    status: str,
    stats: RunStats,
    source: str,
    logger: Any,
    *,
    reraise: bool,
) -> None:
    """Record the run's end; if its summary cannot be saved, record the status alone."""
    try:
        t.record_run(url, run_id, status, stats.to_json(), source)
        return
    except Exception as e:
        logger.error("run summary not saved (%s); recording the status alone", why(e))
        note = {"run_id": stats.run_id, "messages": [f"summary not saved: {why(e)}"]}
    try:
        t.record_run(url, run_id, status, note, source)
    except Exception:
        if reraise:
            raise
        logger.exception("run %s: status %r not recorded", run_id, status)


@flow(name="ingest", log_prints=False, task_runner=ConfiguredTaskRunner())
def ingest(
    path: str,
    policy: str | None = None,
    full: bool = False,
    allow_mass_delete: bool = False,
    reembed: bool = False,
    only: list[str] | None = None,
) -> Any:
    """Bring the index in step with the folder ``path``; returns the run summary (a run
    with failed or pending documents ends in a Completed state named PARTIAL).

    ``only``: a path scope (globs relative to ``path``, see netdocs.ingest.scope): the run
    scans, processes and deletes only documents inside it; the rest is left untouched.
    ``reembed``: the configured embedding model may differ from the index's; the run then
    builds the new vectors beside the served ones (see flows/rebuild.py)."""
    started = time.perf_counter()
    logger = get_run_logger()
    settings = get_settings()
    root = confine(path, settings.docs_roots)  # deployments: only configured folders
    if not root.is_dir():
        raise ConfigError(f"{path}: not a directory")
    check_policy_param(policy, settings.policy, settings.docs_roots)  # deployments, as path
    policy_path = policy or (str(settings.policy) if settings.policy else None)
    given = t.load_optional_policy(policy_path)  # fail early, naming the field, before any work
    scope = check_patterns(only)  # ConfigError naming a bad pattern, before any work
    if scope and reembed:
        raise ConfigError("--only cannot be combined with --reembed (a rebuild is whole-index)")
    stats = RunStats(run_id=str(uuid.uuid4()), scope=list(scope))
    run_id = uuid.UUID(stats.run_id)
    url = t.start_database(settings)
    with run_lock(url):
        rebuild = t.prepare_index(url, settings, reembed)
        if rebuild is not None and scope:
            raise ConfigError(
                f"--only {describe(scope)}: an embedding-model rebuild covers the whole index; "
                "run it without --only"
            )
        source = safe_name(str(root))
        t.record_run(url, run_id, "running", {}, source)
        try:
            if rebuild is None:
                _run(url, root, given, settings, full, allow_mass_delete, run_id, stats, scope)
            else:
                run_rebuild(
                    url,
                    root,
                    given,
                    settings,
                    allow_mass_delete,
                    run_id,
                    stats,
                    rebuild,
                    None if (r := current_runner()) and r.distributed else _progress,
                )
        except BaseException as e:
            stats.duration_s = time.perf_counter() - started
            ended: dict[type[BaseException], str] = {
                MassDeleteRefused: "refused",
                LockLost: "aborted",
            }
            status = ended.get(type(e), "error")
            _finish(url, run_id, status, stats, source, logger, reraise=False)
            raise
        stats.duration_s = time.perf_counter() - started
        price_run(stats, get_embedder(settings).model_id, settings)
        ok = not stats.failed and stats.rebuild.get("status", "completed") == "completed"
        _finish(url, run_id, "completed" if ok else "failed", stats, source, logger, reraise=True)
    try:
        create_markdown_artifact(
            key="ingest-summary", markdown=stats.to_markdown(), description="netdocs ingest run"
        )
    except Exception as e:  # the summary is a convenience: the run itself is recorded
        logger.error("run summary artifact not created: %s", why(e))
    logger.info(
        "done in %.1fs: %d chunks embedded, %d cache hits, %d failed",
        stats.duration_s,
        stats.chunks_embedded,
        stats.embedding_cache_hits,
        len(stats.failed),
    )
    if ok:
        return stats.to_json()
    # Still Completed (its work is done and recorded), by a name the UI and
    # `netdocs ingest --deployment --wait` tell apart from a clean run.
    why_partial = f"{len(stats.failed)} document(s) failed or pending"
    return Completed(data=stats.to_json(), name=PARTIAL, message=why_partial)
