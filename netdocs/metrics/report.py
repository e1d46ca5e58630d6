"""The daily metrics report: the judged summary as Markdown, plus charts on disk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from netdocs.metrics.charts import daily_series, write_charts
from netdocs.metrics.store import load_metrics, load_votes
from netdocs.metrics.summary import report
from netdocs.metrics.text import as_markdown


@dataclass
class ReportData:
    """What a report is made of: the summary window's report and the charts' series."""

    summary: dict[str, Any]
    series: dict[str, list[dict[str, Any]]]


def collect(conn: psycopg.Connection, now: datetime, since_s: float, days: int) -> ReportData:
    """Summary over the last ``since_s`` seconds; chart series over the last ``days`` days."""
    since = now - timedelta(seconds=since_s)
    rows, votes = load_metrics(conn, since), load_votes(conn, since)
    chart_since = now - timedelta(days=days)
    chart_rows = load_metrics(conn, chart_since)
    chart_votes = load_votes(conn, chart_since)
    return ReportData(
        summary=report(rows, votes, since=since, now=now),
        series=daily_series(chart_rows, chart_votes),
    )


def render(data: ReportData, out: Path, *, png: bool = True) -> tuple[str, dict[str, list[Path]]]:
    """Write the charts and ``report.md`` into ``out``; returns (Markdown, chart files)."""
    charts = write_charts(data.series, out, png=png)
    md = as_markdown(data.summary, title="netdocs daily metrics report")
    md += "\n\n## Charts\n\n" + "\n".join(
        f"- {name}: " + ", ".join(f"`{p}`" for p in paths) for name, paths in charts.items()
    )
    (out / "report.md").write_text(md + "\n", encoding="utf-8")
    return md, charts
