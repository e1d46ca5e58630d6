"""Reading query metrics and votes back from PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import psycopg

from netdocs.metrics.record import SELECT_SQL, QueryMetric, row_to_metric


def load_metrics(
    conn: psycopg.Connection, since: datetime | None = None, role: str | None = None
) -> list[QueryMetric]:
    """Metric rows at or after ``since`` (all when None), of ``role`` when given, by time."""
    rows = conn.execute(
        SELECT_SQL + " WHERE (%(since)s::timestamptz IS NULL OR ts >= %(since)s)"
        " AND (%(role)s::text IS NULL OR role = %(role)s) ORDER BY ts, query_id",
        {"since": since, "role": role},
    ).fetchall()
    return [row_to_metric(r) for r in rows]


def load_votes(
    conn: psycopg.Connection, since: datetime | None = None, role: str | None = None
) -> dict[str, bool]:
    """query id -> helpful, the latest vote on each query of the window."""
    rows = conn.execute(
        "SELECT DISTINCT ON (f.query_id) f.query_id, f.rating = 'helpful'"
        " FROM query_feedback f JOIN query_metrics m USING (query_id)"
        " WHERE (%(since)s::timestamptz IS NULL OR m.ts >= %(since)s)"
        " AND (%(role)s::text IS NULL OR m.role = %(role)s)"
        " ORDER BY f.query_id, f.created_at DESC, f.feedback_id DESC",
        {"since": since, "role": role},
    ).fetchall()
    return {qid: bool(helpful) for qid, helpful in rows}
