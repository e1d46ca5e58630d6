"""The ingest flow on a Dask cluster (prefect-dask) builds the same index as on threads:
a local cluster of 2 worker processes started by the run, and an existing scheduler with 2
worker processes (how several machines share one PostgreSQL), each into a fresh database."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection
from netdocs.store.status import fingerprint

from ..conftest import SAMPLE, SAMPLE_TAGS, _clear_settings, use_db

pytestmark = pytest.mark.usefixtures("prefect_harness")
STAGES = ("chunk_batch", "embed_batch", "commit_batch")  # the tasks' functions


def ingest_into(url: str, docs: Path) -> tuple[dict[str, Any], str]:
    from flows.ingest import ingest

    use_db(url)
    result = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    with connection(url) as conn:
        return result, fingerprint(conn) + "/" + vector_digest(conn)


def vector_digest(conn: Any) -> str:
    """A digest of every stored vector by chunk id (the index fingerprint leaves vectors out:
    here they cross processes, through the embedding cache, and must arrive unchanged)."""
    row = conn.execute(
        "SELECT count(*), md5(string_agg(chunk_id || ':' || embedding::text, ',' ORDER BY"
        " chunk_id)) FROM chunks"
    ).fetchone()
    assert row is not None and row[0] > 0
    return f"{row[0]}:{row[1]}"


@contextmanager
def scheduler() -> Iterator[Any]:
    """A running Dask scheduler with two single-threaded worker processes, and a client
    of it that is nobody's default (the flow must find it through NETDOCS_DASK_ADDRESS)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        Client(c, set_as_default=False) as client,
    ):
        yield client


def stage_tasks(client: Any) -> dict[str, int]:
    """How many tasks of each kind the scheduler saw finish (from its transition log)."""

    def count(dask_scheduler: Any) -> dict[str, int]:
        from dask.utils import key_split

        done: dict[str, int] = {}
        for key, _start, finish, *_ in dask_scheduler.transition_log:
            if finish == "memory":
                done[key_split(key)] = done.get(key_split(key), 0) + 1
        return done

    return dict(client.run_on_scheduler(count))


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_dask_runner_builds_the_same_index_as_threads(
    tmp_path: Path, make_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = Path(shutil.copytree(SAMPLE, tmp_path / "docs"))
    monkeypatch.delenv("NETDOCS_DATABASE_URL", raising=False)  # restored after use_db()
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", "8")  # 6 batches: several in flight
    _clear_settings()
    threads, expected = ingest_into(make_db(), docs)
    assert threads["new"] == 43 and not threads["failed"]
    same = (43, threads["chunks_embedded"], threads["chunks_reused"])

    # 1. A local cluster of 2 worker processes, started (and stopped) by the run.
    monkeypatch.setenv("NETDOCS_TASK_RUNNER", "dask")
    monkeypatch.setenv("NETDOCS_DASK_WORKERS", "2")
    seen = Lines()
    runner_log = logging.getLogger("prefect.task_runner.dask")  # prefect-dask's own log
    runner_log.addHandler(seen)
    try:
        local, got = ingest_into(make_db(), docs)
    finally:
        runner_log.removeHandler(seen)
    assert got == expected
    assert any("Creating a new Dask cluster" in line for line in seen.lines), seen.lines
    assert (local["committed"], local["chunks_embedded"], local["chunks_reused"]) == same

    # 2. An existing scheduler (as several machines would share one): tasks run there.
    with scheduler() as client:
        monkeypatch.setenv("NETDOCS_DASK_ADDRESS", client.scheduler.address)
        shared, got = ingest_into(make_db(), docs)
        ran = stage_tasks(client)
    assert got == expected
    assert (shared["committed"], shared["chunks_embedded"], shared["chunks_reused"]) == same
    batches = -(-43 // 8)
    assert {k: ran.get(k) for k in STAGES} == dict.fromkeys(STAGES, batches), ran
