"""Documents served from an older version: which, why, since when, and whether withdrawn.

A document whose current file cannot be indexed (unreadable, quarantined, failed, deletion
postponed) keeps its previous version, marked stale. ``documents.stale_since`` is the first
run that left it so, ``stale_reason`` the latest reason; ``chunks.stale_since`` mirrors it
for the ranking queries, which withdraw chunks stale for longer than NETDOCS_STALE_MAX_AGE.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg


@dataclass(frozen=True)
class StaleDoc:
    """One document served from an older version."""

    doc_id: str
    reason: str
    since: datetime
    withdrawn: bool  # stale for longer than the maximum age: excluded from results

    def to_json(self) -> dict[str, Any]:
        """``{path, reason, since (ISO 8601), withdrawn}``."""
        return {
            "path": self.doc_id,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "withdrawn": self.withdrawn,
        }


def mark_stale(
    conn: psycopg.Connection, stale: Mapping[str, str], within: Collection[str] | None = None
) -> None:
    """Make ``stale`` (doc_id -> reason) the set of stale documents, in one transaction.

    Documents already stale keep their ``since``; every other document becomes fresh --
    only those in ``within`` when given (a path-scoped run leaves the others as they are).
    """
    ids = sorted(stale)
    scope = None if within is None else sorted(within)
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET stale_since = NULL, stale_reason = NULL"
            " WHERE stale_since IS NOT NULL AND NOT (doc_id = ANY(%s))"
            " AND (%s::text[] IS NULL OR doc_id = ANY(%s::text[]))",
            (ids, scope, scope),
        )
        if ids:
            conn.cursor().executemany(
                "UPDATE documents SET stale_since = coalesce(stale_since, now()),"
                " stale_reason = %s WHERE doc_id = %s",
                [(stale[d], d) for d in ids],
            )
        sync_chunks(conn)


def sync_chunks(conn: psycopg.Connection) -> int:
    """Copy each document's ``stale_since`` to its chunks; returns the rows changed."""
    cur = conn.execute(
        "UPDATE chunks c SET stale_since = d.stale_since FROM documents d"
        " WHERE d.doc_id = c.doc_id AND c.stale_since IS DISTINCT FROM d.stale_since"
    )
    return cur.rowcount


def list_stale(conn: psycopg.Connection, max_age: timedelta) -> list[StaleDoc]:
    """Every stale document, oldest first, with whether it is withdrawn at ``max_age``."""
    rows = conn.execute(
        "SELECT doc_id, coalesce(stale_reason, ''), stale_since,"
        " stale_since <= now() - %s::interval FROM documents"
        " WHERE stale_since IS NOT NULL ORDER BY stale_since, doc_id",
        (max_age,),
    ).fetchall()
    return [StaleDoc(r[0], r[1], r[2], bool(r[3])) for r in rows]
