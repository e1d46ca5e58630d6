"""The daily reconciliation flow: ``netdocs check`` as a Prefect run.

Compares the documents with the stored chunks (read-only unless ``repair``), publishes the
report as a Markdown artifact (``reconcile-report``) and ends Failed when drift is left, so
the run is red in the UI until an operator runs ``netdocs check --repair`` (or a run with
``repair=true``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from netdocs.config import get_settings
from netdocs.db import connection, database_url
from netdocs.ingest.check import CheckReport, check
from netdocs.ingest.lock import run_lock
from netdocs.store.schema import migrate


@task(name="check-index", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=300)
def check_index(repair: bool) -> CheckReport:
    """Run the check under the ingest lock (a running ingest: retried later)."""
    settings = get_settings()
    url = database_url(settings)
    migrate(url)
    with run_lock(url), connection(url) as conn:
        return check(conn, repair_drift=repair, stale_max_age=settings.stale_max_age)


@flow(name="reconcile", log_prints=False)
def reconcile(repair: bool = False) -> State[Any]:
    """Report drift between documents and chunks (``repair``: also fix it)."""
    report = check_index(repair)
    create_markdown_artifact(
        key="reconcile-report", markdown=report.to_markdown(), description="netdocs check"
    )
    summary = report.to_json()
    if report.drift and not repair:
        message = f"{len(report.drift)} problem(s) found; run `netdocs check --repair`"
        get_run_logger().error(message)
        return Failed(message=message, data=summary)
    return Completed(message=f"{len(report.drift)} problem(s) repaired", data=summary)
