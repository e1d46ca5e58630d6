"""The content-addressed embedding cache in PostgreSQL, shared by every worker.

Key: (model id, sha256 of the exact text embedded). Look up, embed only what is missing
(each distinct text once), write the new vectors in one transaction, return all vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg

from netdocs.embedding.base import Embedder, Vectors


@dataclass
class CacheStats:
    """Counts for one cached-embed call."""

    hits: int = 0  # texts whose vector came from the cache
    embedded: int = 0  # distinct texts run through the model
    duplicates: int = 0  # texts sharing a vector with an identical text in the same call
    embed_s: float = 0.0  # wall time spent inside the model
    embedded_tokens: int = 0  # tokens sent to the model (when ``tokens`` were given)
    saved_tokens: int = 0  # tokens of cache hits and duplicates, not sent to the model


def lookup(conn: psycopg.Connection, model_id: str, hashes: Sequence[str]) -> dict[str, Vectors]:
    """Cached vectors for the given text hashes."""
    if not hashes:
        return {}
    with conn.cursor(binary=True) as cur:  # binary vectors: no float <-> text round trip
        rows = cur.execute(
            "SELECT text_sha256, embedding FROM embedding_cache "
            "WHERE model_id = %s AND text_sha256 = ANY(%s)",
            (model_id, list(set(hashes))),
        ).fetchall()
    return {h: np.asarray(v, dtype=np.float32) for h, v in rows}


def store(conn: psycopg.Connection, model_id: str, items: dict[str, Vectors]) -> None:
    """Insert new cache entries in one transaction (existing keys are left alone)."""
    if not items:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO embedding_cache (model_id, text_sha256, embedding) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(model_id, h, v) for h, v in items.items()],
        )


def cached_embed(
    conn: psycopg.Connection,
    embedder: Embedder,
    texts: Sequence[str],
    hashes: Sequence[str],
    *,
    on_progress: Callable[[int], None] | None = None,
    return_vectors: bool = True,
    tokens: Sequence[int] | None = None,
) -> tuple[Vectors, CacheStats]:
    """Vectors for ``texts`` (``hashes[i]`` = sha256 of ``texts[i]``), using the cache.

    With ``return_vectors=False`` only the cache is filled (an empty array is returned).
    ``tokens[i]``, when given, is the token count of ``texts[i]``: the stats then say how
    many tokens went to the model and how many the cache saved.
    """
    stats = CacheStats()
    found = lookup(conn, embedder.model_id, hashes)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()  # do not hold a snapshot open while the model runs
    todo: dict[str, str] = {}
    counts = list(tokens) if tokens is not None else [0] * len(texts)
    for text, h, n in zip(texts, hashes, counts, strict=True):
        if h in found:
            stats.hits += 1
            stats.saved_tokens += n
        elif h in todo:
            stats.duplicates += 1
            stats.saved_tokens += n
        else:
            todo[h] = text
            stats.embedded_tokens += n
    fresh: dict[str, Vectors] = {}
    if todo:
        keys = list(todo)
        started = time.perf_counter()
        vectors = embedder.embed([todo[k] for k in keys])
        stats.embed_s = time.perf_counter() - started
        fresh = dict(zip(keys, vectors, strict=True))
        stats.embedded = len(keys)
        store(conn, embedder.model_id, fresh)
        if on_progress:
            on_progress(len(keys))
    if not return_vectors:
        return np.empty((0, embedder.dim), dtype=np.float32), stats
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = found[h] if h in found else fresh[h]
    return out, stats
