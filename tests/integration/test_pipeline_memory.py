"""The ingest pipeline holds a few batches at a time, not the corpus: a committed batch's
chunks are released while later batches go through (flows/pipeline.py)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest

from ..conftest import SAMPLE_TAGS, copy_corpus


def test_committed_batches_are_released_during_the_run(
    tmp_path: Path, db_url: str, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from tasks import ingest as t

    docs = copy_corpus(tmp_path / "docs", "time-sync/chrony/faq", "routing/frr/bgp", "dhcp/kea")
    n = len(list(docs.rglob("*.md")))
    assert n >= 12
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", "1")
    get_settings.cache_clear()
    made: list[weakref.ref[Any]] = []
    alive: list[int] = []  # batches still in memory when each batch is committed
    real_chunk, real_commit = t.stage_chunk, t.stage_commit

    def chunk(*args: Any, **kwargs: Any) -> Any:
        batch = real_chunk(*args, **kwargs)
        made.append(weakref.ref(batch))
        return batch

    def commit(*args: Any, **kwargs: Any) -> Any:
        gc.collect()
        alive.append(sum(1 for ref in made if ref() is not None))
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(t, "stage_chunk", chunk)
    monkeypatch.setattr(t, "stage_commit", commit)
    result = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert result["new"] == n and not result["failed"], result
    assert len(made) == len(alive) == n
    # In flight: the uncommitted window (lanes + 2 = 3 on threads), the batch being read and
    # the one committed last; never the whole corpus.
    assert max(alive) <= 6, alive
