"""The ingest lock's fence (netdocs.ingest.lock): once another run has taken the lock (a
restart ended this run's session and someone started another run), this run's commits stop
wherever they run, not only in the process whose watchdog noticed; and a run that stops
waits for the batches it submitted, so none of them writes after the lock is released."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ..conftest import SAMPLE_TAGS, copy_corpus
from .conftest import ingest_lock_holders

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_commits_stop_once_another_run_holds_the_lock_and_none_outlives_the_run(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdocs.ingest.batch as batch_stage
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.errors import LockLost
    from netdocs.ingest.lock import FENCE_KEY

    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    assert not ingest(path=str(docs), policy=str(SAMPLE_TAGS))["failed"]
    edited = sorted(docs.rglob("*.md"))[:3]
    for f in edited:
        f.write_text(f.read_text() + "\n\nAn edited paragraph.\n")
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", "1")  # one commit task per document
    get_settings.cache_clear()

    real_commit = batch_stage.commit_document
    calls: list[str] = []
    committed: list[str] = []
    in_flight = [0]
    locked_at_end: list[bool] = []  # was the run's lock still held when a commit ended?
    guard = threading.Lock()

    def lock_held() -> bool:
        return bool(ingest_lock_holders(db_url))

    def commit(conn: psycopg.Connection, doc: Any, *args: Any) -> Any:
        with guard:
            calls.append(doc.doc_id)
            in_flight[0] += 1
            nth = len(calls)
        try:
            if nth == 3:
                time.sleep(1.0)  # still running when the run learns it lost the lock
            out = real_commit(conn, doc, *args)
            committed.append(doc.doc_id)
            if nth == 1:  # another run takes the lock now: its run_lock stores a new fence
                with psycopg.connect(db_url, autocommit=True) as other:
                    other.execute(
                        "UPDATE index_meta SET value = 'the-other-run' WHERE key = %s",
                        (FENCE_KEY,),
                    )
            return out
        finally:
            if nth == 3:
                locked_at_end.append(lock_held())
            with guard:
                in_flight[0] -= 1

    monkeypatch.setattr(batch_stage, "commit_document", commit)
    with pytest.raises(LockLost, match="another ingest run has taken"):
        ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert in_flight[0] == 0, "a batch of the stopped run was still committing"
    assert locked_at_end == [True], "a batch ran on after the run released its lock"
    assert len(calls) == 3 and committed == calls[:1], (calls, committed)
    with psycopg.connect(db_url) as conn:
        (runs,) = conn.execute(
            "SELECT count(DISTINCT run_id) FROM documents WHERE doc_id = ANY(%s)",
            ([str(f.relative_to(docs)) for f in edited],),
        ).fetchone()
    assert runs == 2  # the first edit committed by the stopped run, the others by the first
