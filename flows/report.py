"""The daily metrics report flow: judged summary as a Markdown artifact, charts on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from netdocs.config import get_settings
from netdocs.db import connection, database_url
from netdocs.errors import ConfigError
from netdocs.metrics.report import ReportData, collect, render
from netdocs.metrics.summary import parse_since
from netdocs.store.schema import migrate


@task(name="collect-metrics", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def collect_metrics(since: str, days: int) -> ReportData:
    """Read the window's metric rows and votes, and summarise them."""
    since_s = parse_since(since) or float(days * 86400)
    url = database_url(get_settings())
    migrate(url)
    with connection(url) as conn:
        return collect(conn, datetime.now(UTC), since_s, days)


@task(name="render-charts", cache_policy=NO_CACHE)
def render_charts(data: ReportData, out_dir: str, png: bool) -> tuple[str, dict[str, list[str]]]:
    """Write the charts and report.md."""
    md, charts = render(data, Path(out_dir), png=png)
    return md, {name: [str(p) for p in paths] for name, paths in charts.items()}


def inside(out_dir: str, base: Path) -> None:
    """With NETDOCS_DOCS_ROOTS set, whoever can start a run must not choose where its files
    go (into a docs folder, say, for the next ingest to index): ``out_dir`` must lie in
    NETDOCS_REPORT_DIR. ConfigError naming both."""
    resolved, allowed = Path(out_dir).expanduser().resolve(), base.expanduser().resolve()
    if not resolved.is_relative_to(allowed):
        raise ConfigError(
            f"out_dir {out_dir}: outside NETDOCS_REPORT_DIR ({allowed}); with "
            "NETDOCS_DOCS_ROOTS set a run writes its report there only"
        )


@flow(name="metrics-report", log_prints=False)
def metrics_report(
    out_dir: str | None = None, since: str = "24h", days: int = 14, png: bool = True
) -> dict[str, Any]:
    """Summarise the last ``since`` of queries (judged against the targets) and chart the
    last ``days`` days; charts go to ``out_dir`` (default NETDOCS_REPORT_DIR/<date>)."""
    parse_since(since)  # a bad window fails before any work, naming the parameter
    settings = get_settings()
    base = Path(settings.report_dir or settings.home / "reports")
    out = out_dir or str(base / datetime.now(UTC).strftime("%Y-%m-%d"))
    if out_dir is not None and settings.docs_roots:  # a deployment: runs may not choose
        inside(out_dir, base)
    data = collect_metrics(since, days)
    md, charts = render_charts(data, out, png)
    artifact = create_markdown_artifact(
        key="metrics-report", markdown=md, description="netdocs daily metrics report"
    )
    get_run_logger().info("report written to %s", out)
    return {
        "out_dir": out,
        "charts": charts,
        "artifact_id": str(artifact) if artifact else None,
        "summary": data.summary,
    }
