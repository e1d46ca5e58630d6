"""Writing, reading and pruning the append-only ``audit_log`` table (migration 007).

The table refuses UPDATE and TRUNCATE, and DELETE outside ``netdocs_audit_prune`` (see the
migration for the mechanism and its limits).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from netdocs.config import Settings
from netdocs.policy import glob_match


def current_user(settings: Settings) -> str:
    """NETDOCS_USER, else the OS user (``unknown`` when neither can be found)."""
    if settings.user:
        return settings.user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


#: The audit INSERT (its parameters: :func:`row_values`).
COLUMNS = (
    "query_id",
    "action",
    "user_name",
    "role",
    "tags",
    "question",
    "chunk_ids",
    "paths",
    "cache_hit",
    "details",
)
INSERT_SQL = (
    f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('%s' for _ in COLUMNS)})"
)


def row_values(
    *,
    query_id: str,
    action: str,
    user: str,
    role: str | None,
    tags: Sequence[str] | None,
    question: str,
    chunk_ids: Sequence[str],
    paths: Sequence[str],
    cache_hit: bool,
    details: dict[str, Any],
) -> list[Any]:
    """The parameters of :data:`INSERT_SQL` for one row."""
    return [
        query_id,
        action,
        user,
        role,
        None if tags is None else list(tags),
        question,
        list(chunk_ids),
        list(paths),
        cache_hit,
        Jsonb(details),
    ]


def write(conn: psycopg.Connection, **row: Any) -> None:
    """Append one row (the keywords of :func:`row_values`; raises on failure: an
    unaudited answer is not returned)."""
    conn.execute(INSERT_SQL, row_values(**row))


@dataclass(frozen=True)
class AuditRow:
    """One audit record."""

    id: int
    at: datetime
    query_id: str
    action: str
    user: str
    role: str | None
    tags: list[str] | None
    question: str
    chunk_ids: list[str]
    paths: list[str]
    cache_hit: bool
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs audit --json`` shape of one row."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "query_id": self.query_id,
            "action": self.action,
            "user": self.user,
            "role": self.role,
            "tags": self.tags,
            "question": self.question,
            "chunk_ids": self.chunk_ids,
            "paths": self.paths,
            "cache_hit": self.cache_hit,
            "details": self.details,
        }


def query(
    conn: psycopg.Connection,
    *,
    since_s: float | None = None,
    user: str | None = None,
    role: str | None = None,
    path_glob: str | None = None,
) -> list[AuditRow]:
    """Rows oldest first, filtered; ``path_glob`` keeps rows that returned a matching path
    (same glob syntax as the policy: ``*`` within a segment, ``**`` across)."""
    where: list[str] = ["true"]
    params: list[object] = []
    if since_s is not None:
        where.append("at >= now() - make_interval(secs => %s)")
        params.append(since_s)
    if user is not None:
        where.append("user_name = %s")
        params.append(user)
    if role is not None:
        where.append("role = %s")
        params.append(role)
    rows = conn.execute(
        "SELECT id, at, query_id::text, action, user_name, role, tags, question, chunk_ids,"
        " paths, cache_hit, details FROM audit_log WHERE " + " AND ".join(where) + " ORDER BY id",
        params,
    ).fetchall()
    out = [AuditRow(*r) for r in rows]
    if path_glob is not None:
        out = [r for r in out if any(glob_match(path_glob, p) for p in r.paths)]
    return out


def prune(conn: psycopg.Connection, before: datetime, user: str, role: str | None) -> int:
    """Delete rows older than ``before``, leaving a 'prune' row; returns rows deleted."""
    with conn.transaction():
        row = conn.execute(
            "SELECT netdocs_audit_prune(%s, %s, %s)", (before, user, role)
        ).fetchone()
    return int(row[0]) if row else 0
