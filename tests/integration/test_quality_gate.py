"""The data-quality gate inside the ingest flow: bad documents are quarantined, named, and
retried only once they change; the rest of the run is committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection

from ..conftest import TAGS

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run(path: Path, **kw: Any) -> dict[str, Any]:
    from flows.ingest import ingest

    return ingest(path=str(path), policy=str(TAGS), **kw)


def test_bad_documents_are_quarantined_and_retried_after_a_change(
    docs_dir: Path, db_url: str
) -> None:
    (docs_dir / "control.md").write_text("# Notes\n\nthe bell \x07 rings and \x1b[31m is red\n")
    # A front-matter tag outside the policy's front_matter_tags (here also outside the
    # vocabulary) is ignored with a warning: the document is indexed with its rule tags.
    (docs_dir / "tagged.md").write_text("---\ntags: [secret_sauce]\n---\n# Tagged\n\ntext\n")
    first = run(docs_dir)
    failed = {f["path"]: f["error"] for f in first["failed"]}
    assert set(failed) == {"control.md"}
    assert "control" in failed["control.md"].lower()
    assert any("tagged.md" in m and "secret_sauce" in m for m in first["messages"])
    assert first["quarantined"] == 1 and first["committed"] == first["new"] - 1
    with connection(db_url) as conn:
        stored = {r[0] for r in conn.execute("SELECT doc_id FROM documents")}
        quarantined = dict(conn.execute("SELECT doc_id, reasons FROM quarantine").fetchall())
    assert "control.md" not in stored and "tagged.md" in stored
    assert len(stored) == first["new"] - 1
    reasons = quarantined["control.md"]
    assert reasons[0]["expectation"] and reasons[0]["sample_values"]

    again = run(docs_dir)  # unchanged: not re-processed, still reported
    assert {f["path"] for f in again["failed"]} == {"control.md"}
    assert again["chunks_embedded"] == 0 and again["quarantined"] == 0

    (docs_dir / "control.md").write_text("# Notes\n\nthe bell rings\n")
    fixed = run(docs_dir)
    assert fixed["failed"] == []
    with connection(db_url) as conn:
        left = {r[0] for r in conn.execute("SELECT doc_id FROM quarantine")}
        docs = {r[0] for r in conn.execute("SELECT doc_id FROM documents")}
    assert left == set() and "control.md" in docs
