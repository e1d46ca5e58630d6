"""A run refused by the mass-delete guard changes nothing, but what the folder changed is
not served forever: the edited and deleted documents are marked stale (real PostgreSQL +
Prefect harness), so NETDOCS_STALE_MAX_AGE withdraws them if runs keep being refused."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from netdocs.errors import MassDeleteRefused

from ..conftest import remove_most

pytestmark = pytest.mark.usefixtures("prefect_harness")


def stale(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT doc_id, stale_reason FROM documents WHERE stale_since IS NOT NULL"
        ).fetchall()
    return {str(d): str(r) for d, r in rows}


def test_a_refused_run_leaves_what_changed_stale(few_docs: Path, db_url: str) -> None:
    from flows.ingest import ingest

    ingest(path=str(few_docs))
    removed = remove_most(few_docs)
    kept = sorted(p for p in few_docs.rglob("*.md"))
    kept[0].write_text(kept[0].read_text() + "\n\nAn edited paragraph.\n")
    edited = kept[0].relative_to(few_docs).as_posix()
    with pytest.raises(MassDeleteRefused):
        ingest(path=str(few_docs))
    marked = stale(db_url)
    assert set(marked) == removed | {edited}
    assert all("refused" in why for why in marked.values())
    result = ingest(path=str(few_docs), allow_mass_delete=True)  # the intended run
    assert result["deleted"] == len(removed) and not stale(db_url)
