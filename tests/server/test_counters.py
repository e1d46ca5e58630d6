"""The server's buffered cache statistics, on a real database: nothing is written per lookup,
everything is written by the flush, and a failed flush loses nothing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from netdocs.cache import store
from netdocs.cache.counters import CounterBuffer
from netdocs.cache.embeddings import cached_query_vector
from netdocs.db import connect
from netdocs.store.schema import migrate

MODEL = "test/model"


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    migrate(db_url)
    with connect(db_url, autocommit=True) as c:
        yield c


def _counters(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    rows = conn.execute("SELECT kind, hits, misses FROM cache_counters").fetchall()
    return {k: (h, m) for k, h, m in rows}


def _vector_hits(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT hit_count FROM query_embedding_cache").fetchone()
    assert row is not None
    return int(row[0])


def test_lookups_are_counted_by_the_flush_not_per_query(conn: psycopg.Connection) -> None:
    before = _counters(conn)
    buf = CounterBuffer()
    calls: list[str] = []

    def embed(text: str) -> np.ndarray:
        calls.append(text)
        return np.ones(4, dtype=np.float32)

    first, hit1 = cached_query_vector(conn, MODEL, "bgp timers", embed, buf)
    again, hit2 = cached_query_vector(conn, MODEL, "bgp timers", embed, buf)
    assert (hit1, hit2, calls) == (False, True, ["bgp timers"])
    assert np.array_equal(first, again)
    fields = {"action": "search", "generation": 0}
    store.store(conn, "k1", fields, None, {"hits": []}, [])
    store.mark_hit(conn, "k1", buf)
    store.mark_hit(conn, "k1", buf)
    store.count_lookup(conn, "query", False, buf)
    assert _counters(conn) == before  # nothing written per lookup
    assert _vector_hits(conn) == 0

    assert buf.flush(conn) == 5 and buf.pending() == 0
    after = _counters(conn)
    assert after["query"] == (before["query"][0] + 2, before["query"][1] + 1)
    emb = before["query_embedding"]
    assert after["query_embedding"] == (emb[0] + 1, emb[1] + 1)
    assert _vector_hits(conn) == 1
    (entry_hits,) = conn.execute("SELECT hit_count FROM query_cache").fetchone() or (None,)
    assert entry_hits == 2
    assert buf.flush(conn) == 0 and _counters(conn) == after  # written once


def test_a_failed_flush_keeps_the_counts(conn: psycopg.Connection, db_url: str) -> None:
    before = _counters(conn)
    buf = CounterBuffer()
    buf.lookup("query", True)
    buf.lookup("query_embedding", False)
    broken = connect(db_url, autocommit=True)
    broken.close()
    with pytest.raises(psycopg.Error):
        buf.flush(broken)
    assert buf.pending() == 2
    assert buf.flush(conn) == 2
    after = _counters(conn)
    assert after["query"][0] == before["query"][0] + 1
    assert after["query_embedding"][1] == before["query_embedding"][1] + 1
