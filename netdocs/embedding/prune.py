"""Shrink the embedding cache: drop entries whose text no stored chunk holds any more.

An entry is *used* while some chunk stores its text (``chunks.text_hash``), whatever the
model: texts still indexed keep their vectors for every model, so switching back is cheap.
Run it under the ingest lock: a running ingest passes vectors between its stages through
the cache, and must not lose the ones it has not committed yet.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import psycopg

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed and what is left."""

    deleted: int
    kept: int
    older_than_s: float | None

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return asdict(self)


def parse_age(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` (ValueError for anything else)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not an age like 7d, 12h, 30m, 45s or 2w")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def prune_cache(conn: psycopg.Connection, older_than: timedelta | None = None) -> PruneResult:
    """Delete the unused entries (created more than ``older_than`` ago, when given)."""
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM embedding_cache e"
            " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.text_hash = e.text_sha256)"
            " AND (%(age)s::interval IS NULL OR e.created_at < now() - %(age)s::interval)",
            {"age": older_than},
        )
        deleted = cur.rowcount
        row = conn.execute("SELECT count(*) FROM embedding_cache").fetchone()
    return PruneResult(
        deleted=deleted,
        kept=int(row[0]) if row else 0,
        older_than_s=older_than.total_seconds() if older_than is not None else None,
    )
