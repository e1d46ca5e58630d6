"""``netdocs cache stats`` figures and ``netdocs cache clear`` (reads and deletes rows)."""

from __future__ import annotations

from typing import Any

import psycopg

from netdocs.query.llm import cost_usd

KINDS = ("query", "embedding")


def _rate(hits: int, misses: int) -> float | None:
    return None if hits + misses == 0 else hits / (hits + misses)


def _table(conn: psycopg.Connection, table: str) -> tuple[int, int]:
    row = conn.execute(
        f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t"  # fixed names
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _counters(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    rows = conn.execute("SELECT kind, hits, misses FROM cache_counters").fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def _entry(entries: int, size: int, hits: int, misses: int) -> dict[str, Any]:
    return {
        "entries": entries,
        "bytes": size,
        "hits": hits,
        "misses": misses,
        "hit_rate": _rate(hits, misses),
    }


def cache_stats(conn: psycopg.Connection) -> dict[str, Any]:
    """Entries, bytes (row data, without indexes), hits, misses and hit rate per cache, and
    the money saved: for each cached answer, hits x its stored tokens at the model's price.

    Query and question-embedding hits/misses are counted at lookup; chunk-embedding ones
    come from the ingest runs (texts found in the cache vs texts embedded).
    """
    counters = _counters(conn)
    out: dict[str, Any] = {}
    q_entries, q_bytes = _table(conn, "query_cache")
    out["query"] = _entry(q_entries, q_bytes, *counters.get("query", (0, 0)))
    e_entries, e_bytes = _table(conn, "query_embedding_cache")
    out["query_embedding"] = _entry(e_entries, e_bytes, *counters.get("query_embedding", (0, 0)))
    c_entries, c_bytes = _table(conn, "embedding_cache")
    row = conn.execute(
        "SELECT coalesce(sum((stats->>'embedding_cache_hits')::bigint), 0),"
        " coalesce(sum((stats->>'chunks_embedded')::bigint), 0) FROM runs"
        " WHERE stats ? 'embedding_cache_hits'"
    ).fetchone()
    c_hits, c_misses = (int(row[0]), int(row[1])) if row else (0, 0)
    out["chunk_embedding"] = _entry(c_entries, c_bytes, c_hits, c_misses)
    saved, unpriced = 0.0, 0
    priced = conn.execute(
        "SELECT model, input_tokens, output_tokens, hit_count FROM query_cache"
        " WHERE model IS NOT NULL AND hit_count > 0"
    ).fetchall()
    for model, tokens_in, tokens_out, hits in priced:
        price = cost_usd(model, tokens_in, tokens_out)
        if price is None:
            unpriced += int(hits)
        else:
            saved += price * int(hits)
    out["query"]["saved_usd"] = round(saved, 6)
    out["query"]["unpriced_hits"] = unpriced
    out["saved_usd"] = round(saved, 6)
    return out


def clear(
    conn: psycopg.Connection, older_than_s: float | None = None, kind: str | None = None
) -> dict[str, int]:
    """Delete cache entries (older than ``older_than_s`` seconds, if given) of ``kind``
    (``query``: results and answers; ``embedding``: question embeddings; None: both).

    The chunk-embedding cache is left alone: ingest runs hand vectors between their
    stages through it.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    tables = {"query": "query_cache", "embedding": "query_embedding_cache"}
    age = "" if older_than_s is None else " WHERE created_at < now() - make_interval(secs => %s)"
    params = () if older_than_s is None else (older_than_s,)
    deleted: dict[str, int] = {}
    with conn.transaction():
        for name, table in tables.items():
            if kind in (None, name):
                cur = conn.execute(f"DELETE FROM {table}{age}", params)  # fixed names
                deleted[name] = cur.rowcount
    return deleted
