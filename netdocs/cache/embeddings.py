"""The question-embedding cache: (model id, sha256 of the question text) -> vector."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg

from netdocs.cache.keys import question_sha256
from netdocs.cache.store import NO_FLUSH_WAIT, count_lookup


def cached_query_vector(
    conn: psycopg.Connection,
    model_id: str,
    text: str,
    embed: Callable[[str], np.ndarray],
) -> tuple[np.ndarray, bool]:
    """The vector of ``text`` under ``model_id`` and whether it came from the cache.

    On a miss ``embed(text)`` runs (outside any transaction) and its vector is stored.
    """
    digest = question_sha256(text)
    with conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute(NO_FLUSH_WAIT)
        row = cur.execute(
            "UPDATE query_embedding_cache SET hit_count = hit_count + 1, last_hit_at = now()"
            " WHERE model_id = %s AND text_sha256 = %s RETURNING embedding",
            (model_id, digest),
        ).fetchone()
        if row is not None:
            count_lookup(conn, "query_embedding", True)
            return np.asarray(row[0], dtype=np.float32), True
    vector = np.asarray(embed(text), dtype=np.float32)
    with conn.transaction():
        conn.execute(
            "INSERT INTO query_embedding_cache (model_id, text_sha256, embedding)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (model_id, digest, vector),
        )
        count_lookup(conn, "query_embedding", False)
    return vector, False
