"""The ``provider_breakers`` table: the last known circuit-breaker state per provider."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from netdocs.resilience import BreakerSnapshot


def save_breakers(conn: psycopg.Connection, snapshots: Iterable[BreakerSnapshot]) -> int:
    """Upsert one row per provider (in one transaction); returns the number written."""
    rows = [(s.provider, s.state, s.failures, s.opened_at) for s in snapshots]
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO provider_breakers (provider, state, failures, opened_at, updated_at)"
            " VALUES (%s, %s, %s, to_timestamp(%s), now())"
            " ON CONFLICT (provider) DO UPDATE SET state = EXCLUDED.state,"
            " failures = EXCLUDED.failures, opened_at = EXCLUDED.opened_at,"
            " updated_at = EXCLUDED.updated_at",
            rows,
        )
    return len(rows)


def load_snapshots(conn: psycopg.Connection) -> dict[str, BreakerSnapshot]:
    """The recorded breakers as snapshots (``opened_at`` in epoch seconds)."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "SELECT provider, state, failures, extract(epoch FROM opened_at)::float8"
                " FROM provider_breakers"
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {
        str(p): BreakerSnapshot(str(p), str(s), int(f), None if o is None else float(o))
        for p, s, f, o in rows
    }


def load_breakers(conn: psycopg.Connection) -> dict[str, str]:
    """``{provider: state}`` as last recorded (empty before any provider was called)."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "SELECT provider, state FROM provider_breakers ORDER BY provider"
            ).fetchall()
    except psycopg.errors.UndefinedTable:  # a database not migrated to v2 yet
        return {}
    return {str(p): str(s) for p, s in rows}
