"""The ingest flow's batch pipeline: read+chunk -> embed -> validate+commit, overlapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from prefect import get_run_logger
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import allow_failure, opaque

from flows.runner import current_runner
from netdocs.config import Settings
from netdocs.errors import DatabaseError, LockLost
from netdocs.ingest.batch import Progress
from netdocs.ingest.isolate import why
from netdocs.ingest.lock import ensure_held, fence_of
from netdocs.ingest.stats import BatchStats, RunStats
from netdocs.policy import Policy
from netdocs.types import DocFailure
from tasks import ingest as t


def _batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def process_batches(
    url: str,
    root: Path,
    doc_ids: list[str],
    policy: Policy | None,
    settings: Settings,
    run_id: UUID,
    stats: RunStats,
    progress: Progress | None,
) -> None:
    """Read, chunk, embed, validate and commit ``doc_ids`` in batches; counters into ``stats``."""
    logger = get_run_logger()
    # A three-stage pipeline: batch i+2 is read and chunked while batch i+1 is in the
    # model and batch i is validated and committed. Reading and committing take one
    # batch at a time; the model takes `lanes` batches at a time (1 on threads, one per
    # worker on Dask), and reading runs at most lanes + 1 batches ahead of it. A batch is
    # read only once the batch `window` places before it is committed; its results are
    # then collected and dropped, so memory holds a few batches, not the whole corpus.
    runner = current_runner()
    lanes = runner.lanes if runner else 1
    window = lanes + 2
    # In-process runners hand a stage's result to the next without Prefect walking through
    # its every chunk looking for futures (seconds per run); Dask must see the future itself.
    hand = (lambda f: f) if runner and runner.distributed else opaque
    chunks: dict[int, PrefectFuture[Any]] = {}
    embeds: dict[int, PrefectFuture[Any]] = {}
    commits: dict[int, PrefectFuture[Any]] = {}
    chunk_prev: PrefectFuture[Any] | None = None
    batches = _batches(doc_ids, settings.docs_per_commit_batch)
    fence = fence_of(url)  # each commit checks it: a worker elsewhere stops when it is gone

    def collect(j: int) -> None:
        stages = [chunks.pop(j), embeds.pop(j), commits.pop(j)]
        stats.add_batch(_batch_result(url, stages, batches[j], logger))

    try:
        for i, batch in enumerate(batches):
            if i >= window:
                collect(i - window)
            back = i - 1 - lanes  # the model's batch this read must not run ahead of
            # The waits below only order the stages: a batch that failed must not hold back
            # the batches after it (Prefect would leave them NotReady), hence allow_failure.
            ahead = ([chunk_prev] if chunk_prev else []) + ([embeds[back]] if back >= 0 else [])
            chunked = t.chunk_batch.submit(
                url,
                str(root),
                batch,
                policy,
                settings,
                wait_for=[allow_failure(f) for f in ahead],
            )
            earlier = [allow_failure(embeds[i - lanes])] if i >= lanes else []
            embedded = t.embed_batch.submit(
                url, hand(chunked), settings, progress, wait_for=earlier
            )
            committed = t.commit_batch.submit(
                url,
                hand(embedded),
                policy,
                settings,
                run_id,
                progress,
                fence,
                wait_for=[allow_failure(commits[i - 1])] if i else [],
            )
            chunk_prev = chunked
            chunks[i], embeds[i], commits[i] = chunked, embedded, committed
        for j in sorted(commits):
            collect(j)
    except BaseException:
        # The run stops (a database outage, a lost lock): none of its batches may still run
        # once the caller releases the lock, so wait for those already submitted.
        for future in [*chunks.values(), *embeds.values(), *commits.values()]:
            future.wait()
        raise


def _batch_result(
    url: str, stages: list[PrefectFuture[Any]], batch: list[str], logger: Any
) -> BatchStats:
    """A batch's counters from its stages' futures (read+chunk, embed, commit); a batch that
    raised (not for a database outage or a lost ingest lock) fails alone, with the error
    of the stage that raised (the stages after it were never run)."""
    try:
        try:
            result: BatchStats = stages[-1].result()
        except Exception as e:
            raise _cause(stages[:-1]) or e from None
    except (DatabaseError, LockLost, psycopg.OperationalError, psycopg.InterfaceError):
        ensure_held(url, probe=True)  # a lost lock stopped the tasks: say that instead
        raise
    except Exception as e:
        ensure_held(url, probe=True)
        logger.error("a batch of %d document(s) failed: %s", len(batch), why(e))
        return BatchStats(failed=[DocFailure(d, f"batch failed: {why(e)}") for d in batch])
    return result


def _cause(earlier: list[PrefectFuture[Any]]) -> Exception | None:
    """The exception of the first earlier stage that failed (its successors never ran)."""
    for stage in earlier:
        if stage.state.is_failed():
            try:
                stage.result()
            except Exception as e:
                return e
    return None
