"""The reconcile flow (daily `check` deployment): Completed with a clean report on a
consistent index; Failed, naming the fix, with the drift in its Markdown artifact when a
document lost its chunks; `repair=True` fixes it."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import get_client

from ..conftest import SAMPLE_TAGS, copy_corpus


def _artifact(flow_run_id: object) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["reconcile-report"]))
        )
    return next(str(a.data) for a in found if a.flow_run_id == flow_run_id)


@pytest.mark.usefixtures("prefect_harness")
def test_reconcile_reports_and_repairs_drift(tmp_path: Path, db_url: str) -> None:
    from flows.ingest import ingest
    from flows.reconcile import reconcile

    docs = copy_corpus(tmp_path / "docs", "vpn")
    ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    state = reconcile(return_state=True)
    assert state.is_completed()

    with psycopg.connect(db_url) as conn:
        (victim,) = conn.execute("SELECT min(doc_id) FROM documents").fetchone() or (None,)
        conn.execute("DELETE FROM chunks WHERE doc_id = %s", (victim,))
    state = reconcile(return_state=True)
    assert state.is_failed() and "netdocs check --repair" in str(state.message)
    report = _artifact(state.state_details.flow_run_id)
    assert "document_without_chunks" in report and str(victim) in report

    assert reconcile(repair=True, return_state=True).is_completed()
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT 1 FROM documents WHERE doc_id = %s", (victim,)).fetchone()
    assert row is None  # deleted so that the next ingest re-processes the file
    assert reconcile(return_state=True).is_completed()
