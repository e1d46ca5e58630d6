"""The question-embedding cache: (model id, sha256 of the question text) -> vector."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from netdocs.cache.keys import question_sha256
from netdocs.cache.store import NO_FLUSH_WAIT, count_lookup

if TYPE_CHECKING:
    from netdocs.cache.counters import CounterBuffer


def cached_query_vector(
    conn: psycopg.Connection,
    model_id: str,
    text: str,
    embed: Callable[[str], np.ndarray],
    buffer: CounterBuffer | None = None,
) -> tuple[np.ndarray, bool]:
    """The vector of ``text`` under ``model_id`` and whether it came from the cache.

    On a miss ``embed(text)`` runs (outside any transaction) and its vector is stored. With
    a ``buffer`` a hit is one SELECT: its counts go to the buffer instead of an UPDATE.
    """
    hit = lookup_query_vector(conn, model_id, text, buffer)
    if hit is not None:
        return hit, True
    vector = np.asarray(embed(text), dtype=np.float32)
    store_query_vector(conn, model_id, text, vector, buffer)
    return vector, False


def lookup_query_vector(
    conn: psycopg.Connection, model_id: str, text: str, buffer: CounterBuffer | None = None
) -> np.ndarray | None:
    """The cached vector of ``text`` under ``model_id`` (its hit counted), else None."""
    digest = question_sha256(text)
    if buffer is None:
        return _counted_hit(conn, model_id, digest)
    with conn.cursor(binary=True) as cur:
        row = cur.execute(
            "SELECT embedding FROM query_embedding_cache WHERE model_id = %s AND text_sha256 = %s",
            (model_id, digest),
        ).fetchone()
    if row is None:
        return None
    buffer.vector_hit(model_id, digest)
    return np.asarray(row[0], dtype=np.float32)


def store_query_vector(
    conn: psycopg.Connection,
    model_id: str,
    text: str,
    vector: np.ndarray,
    buffer: CounterBuffer | None = None,
) -> None:
    """Store a missed question's vector and count the miss."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO query_embedding_cache (model_id, text_sha256, embedding)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (model_id, question_sha256(text), vector),
        )
        count_lookup(conn, "query_embedding", False, buffer)


def _counted_hit(conn: psycopg.Connection, model_id: str, digest: str) -> np.ndarray | None:
    """The cached vector, its hit counted in the same transaction (no buffer)."""
    with conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute(NO_FLUSH_WAIT)
        row = cur.execute(
            "UPDATE query_embedding_cache SET hit_count = hit_count + 1, last_hit_at = now()"
            " WHERE model_id = %s AND text_sha256 = %s RETURNING embedding",
            (model_id, digest),
        ).fetchone()
        if row is not None:
            count_lookup(conn, "query_embedding", True)
            return np.asarray(row[0], dtype=np.float32)
    return None
