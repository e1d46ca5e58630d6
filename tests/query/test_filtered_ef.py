"""A filtered HNSW search widens ``hnsw.ef_search`` by the share of chunks the role may see,
estimated from PostgreSQL's statistics of ``chunks.tags``."""

from __future__ import annotations

import weakref

import psycopg
import pytest

from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query import search, tagshare

from .conftest import InsertDoc


def test_filtered_hnsw_search_widens_ef_by_the_visible_share(
    query_conn: psycopg.Connection,
    add_doc: InsertDoc,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    ef_shares: list[float],
) -> None:
    for i in range(16):
        add_doc(f"wide{i}.md", ["runbooks"], [(f"Wide {i}", f"runbook number {i} about ospf")])
    for i in range(4):
        add_doc(f"narrow{i}.md", ["faq"], [(f"Narrow {i}", f"faq number {i} about ospf")])
    query_conn.execute("ANALYZE chunks")
    monkeypatch.setattr(tagshare, "_cache", weakref.WeakKeyDictionary())
    vec = embedder.embed(["ospf"])[0]
    hits = search.dense_hits(query_conn, vec, frozenset({"faq"}), 3, embedder.dim, exact=False)
    assert len(hits) == 3 and all(h.path.startswith("narrow") for h in hits)
    search.dense_hits(query_conn, vec, None, 3, embedder.dim, exact=False)
    assert ef_shares == [pytest.approx(4 / 20), 1.0]  # faq: 4 of 20 chunks; unrestricted: all
