"""A failure stays with its own file or batch (real PostgreSQL, Prefect harness): a front
matter whose explicit YAML tag cannot be built fails that file by name, and a batch whose
model call raises fails alone while the batches after it are still committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _indexed(url: str) -> set[str]:
    with connection(url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT doc_id FROM documents")}


def test_bad_front_matter_and_a_raising_batch_fail_alone(
    docs_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from tasks import ingest as t

    # PyYAML raises AttributeError / IndexError (not YAMLError) for these explicit tags.
    (docs_dir / "bad-date.md").write_text("---\ndate: !!timestamp nope\n---\n# Bad\n\ntext\n")
    (docs_dir / "bad-int.md").write_text("---\nn: !!int ''\n---\n# Bad\n\ntext\n")
    everything = {str(p.relative_to(docs_dir)) for p in docs_dir.rglob("*.md")}
    good = sorted(everything - {"bad-date.md", "bad-int.md"})
    assert len(good) >= 20
    target = good[6]  # in the second batch of four: batches after it must still commit
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", "4")
    get_settings.cache_clear()
    real_embed = t.stage_embed

    def embed(conn: Any, batch: Any, **kwargs: Any) -> Any:
        if any(d.doc_id == target for d, _ in batch.ready):
            raise RuntimeError("the model fell over")
        return real_embed(conn, batch, **kwargs)

    monkeypatch.setattr(t, "stage_embed", embed)
    result = ingest(path=str(docs_dir))

    errors = {f["path"]: f["error"] for f in result["failed"]}
    for bad in ("bad-date.md", "bad-int.md"):
        assert "malformed YAML front matter" in errors.pop(bad)
    assert target in errors
    assert all("batch failed" in e and "the model fell over" in e for e in errors.values())
    assert len(errors) <= 4  # that one batch, not every batch after it
    assert _indexed(db_url) == set(good) - set(errors)

    monkeypatch.setattr(t, "stage_embed", real_embed)  # the model is back: the rest goes in
    again = ingest(path=str(docs_dir))
    assert {f["path"] for f in again["failed"]} == {"bad-date.md", "bad-int.md"}
    assert _indexed(db_url) == set(good)


def test_a_retried_commit_counts_each_document_once(
    docs_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection error in the middle of a commit task makes Prefect run it again; the
    documents the failed attempt had committed are not counted twice in the run's summary."""
    import psycopg

    import netdocs.ingest.batch as batch_stage
    from flows.ingest import ingest
    from netdocs.config import get_settings

    n = len(list(docs_dir.rglob("*.md")))
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", str(n))  # one batch: one commit task
    get_settings.cache_clear()
    real_commit = batch_stage.commit_document
    calls = [0]

    def commit(conn: Any, *args: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:  # the connection drops at the third document, once
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real_commit(conn, *args)

    monkeypatch.setattr(batch_stage, "commit_document", commit)
    result = ingest(path=str(docs_dir))
    assert calls[0] == n + 3  # two committed, one dropped, then the whole batch again
    assert result["committed"] == n and not result["failed"], result
    assert len(_indexed(db_url)) == n


def test_a_run_with_a_failed_document_is_completed_as_partial(docs_dir: Path, db_url: str) -> None:
    """The scheduled run of a folder with a broken file did its work (the rest is indexed),
    but must not look like a clean run in the Prefect UI: Completed, named Partial."""
    from flows.ingest import ingest
    from netdocs.ingest.stats import PARTIAL

    clean = ingest(path=str(docs_dir), return_state=True)
    assert clean.is_completed() and clean.name == "Completed"
    (docs_dir / "broken.md").write_bytes(b"# Broken\n\ncaf\xe9\n")  # invalid UTF-8
    state = ingest(path=str(docs_dir), return_state=True)
    assert state.is_completed() and state.name == PARTIAL, state
    assert "1 document(s) failed" in (state.message or "")
    summary = state.result()
    assert [f["path"] for f in summary["failed"]] == ["broken.md"]
    again = ingest(path=str(docs_dir))  # a direct call still returns the summary itself
    assert isinstance(again, dict) and [f["path"] for f in again["failed"]] == ["broken.md"]
