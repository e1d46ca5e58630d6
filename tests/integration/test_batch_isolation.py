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
