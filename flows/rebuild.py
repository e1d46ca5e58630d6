"""The ingest flow's rebuild path: a different embedding model builds a new generation of
vectors beside the served one and swaps it in only when it is complete.

Deletions (under the mass-delete guard) and tag-only changes still reach the served
generation; new and changed text waits for the swap (the old model cannot embed it).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture

from netdocs.config import Settings
from netdocs.ingest.batch import Progress
from netdocs.ingest.stats import RunStats
from netdocs.policy import Policy
from netdocs.store.generation import Rebuild
from tasks import ingest as t
from tasks import rebuild as r


def _batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def run_rebuild(
    url: str,
    root: Path,
    given: Policy | None,
    settings: Settings,
    allow_mass_delete: bool,
    run_id: uuid.UUID,
    stats: RunStats,
    rebuild: Rebuild,
    progress: Progress | None,
) -> None:
    """Rebuild every document with the new model; swap when nothing is missing."""
    logger = get_run_logger()
    logger.warning("embedding model change: rebuilding %s", rebuild.describe())
    started = time.perf_counter()
    policy = t.index_policy(url, given)  # the policy given, else the one stored
    plan = t.plan_run(url, str(root), policy, settings, False)
    stats.time("scan_and_diff_s", time.perf_counter() - started)
    stats.count_plan(plan)
    deletable = t.guard_deletes(plan, settings.mass_delete_ratio, allow_mass_delete)
    # the policy given and the tags it gives, stored together (served by the old vectors)
    stats.failed += t.apply_policy(url, given, plan.retag, run_id)[1]
    todo = sorted(plan.docs)
    if progress:
        progress("total_docs", len(todo))
    embeds: list[PrefectFuture[Any]] = []
    checks: list[PrefectFuture[Any]] = []
    chunk_prev: PrefectFuture[Any] | None = None
    for i, batch in enumerate(_batches(todo, settings.docs_per_commit_batch)):
        ahead = ([chunk_prev] if chunk_prev else []) + (embeds[i - 2 : i - 1] if i >= 2 else [])
        chunked = t.chunk_batch.submit(url, str(root), batch, policy, settings, wait_for=ahead)
        embedded = r.embed_batch.submit(url, chunked, settings, progress, wait_for=embeds[-1:])
        checks.append(r.validate_batch.submit(url, embedded, policy, settings))
        chunk_prev = chunked
        embeds.append(embedded)
    batches = [f.result() for f in checks]
    unembedded: set[str] = set()
    for b in batches:
        stats.add_batch(b.stats)
        unembedded |= b.unembedded
    stats.chunks_deleted += t.delete_documents(url, deletable)
    stats.deleted = len(deletable)
    rebuilt = {d.doc_id for b in batches for d, _ in b.ready}
    keep = [d for d in r.served_documents(url) if d not in rebuilt]
    if not unembedded:  # else no swap this run: do not call a failing provider again
        kept_stats, kept_missing = r.embed_kept(url, keep, settings)
        stats.add_batch(kept_stats)
        unembedded |= kept_missing
    info: dict[str, Any] = {
        "from": rebuild.old_model,
        "to": rebuild.new_model,
        "documents": len(rebuilt),
        "kept_documents": len(keep),
        "not_embedded": len(unembedded),
    }
    if unembedded:
        info["status"] = "pending"
        stats.messages.append(
            f"embedding model rebuild {rebuild.describe()} pending: {len(unembedded)} "
            f"document(s) have no {rebuild.new_model} vectors yet; the index keeps serving "
            f"{rebuild.old_model}, and the next run continues the rebuild"
        )
    else:
        started = time.perf_counter()
        swapped = r.swap(url, rebuild, batches, run_id)
        stats.time("swap_s", time.perf_counter() - started)
        t.prune_cache(url, settings)  # entries of the old model's index: never served again
        stats.committed, stats.quarantined = swapped.documents, swapped.quarantined
        if not keep:  # every served document was chunked by the current rules
            t.record_chunker(url, settings)
        info["status"] = "completed"
        stats.messages.append(
            f"embedding model rebuilt {rebuild.describe()}: {swapped.documents} document(s) "
            f"re-embedded, {len(keep)} kept as they were"
        )
    stats.rebuild = info
