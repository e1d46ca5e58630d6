"""Diversity and `--by document` on real PostgreSQL: only the caller's visible candidates
count (the tag filter stays in SQL), and the setting is part of the query-cache key."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.api import run_search
from netdocs.query.service import SearchService

Q = "ospf area border router summary"


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: Callable[..., None]) -> None:
    body = "ospf area border router summary lsa"
    add_doc("open/a.md", ["faq"], [(f"A{i}", f"{body} a{i}") for i in range(4)])
    add_doc("open/b.md", ["faq"], [("B", f"{body} b")])
    # Hidden from the faq role, and the best match: six exact chunks.
    add_doc("secret/s.md", ["vpn"], [(f"S{i}", f"{Q} s{i} {Q}") for i in range(6)])


def service(
    conn: psycopg.Connection, emb: HashingEmbedder, allowed: set[str] | None, per_doc: int
) -> SearchService:
    settings = Settings(llm_provider="none", diversity_per_doc=per_doc, query_cache_ttl="1h")
    tags = None if allowed is None else frozenset(allowed)
    return SearchService(tags, settings=settings, conn=conn, embedder=emb)


def test_only_visible_documents_are_chosen_and_counted(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    faq = service(query_conn, embedder, {"faq"}, 2)
    hits = run_search(faq, Q, k=5).hits
    # Two visible documents, five slots: the cap gives way (fill), nothing hidden enters.
    assert sorted(h.path for h in hits) == ["open/a.md"] * 4 + ["open/b.md"]
    docs = run_search(faq, Q, k=5, by="document").documents
    assert docs is not None
    assert {(d.path, d.chunks) for d in docs} == {("open/a.md", 4), ("open/b.md", 1)}
    # Unrestricted, the hidden file is there and the cap holds: not a vacuous check.
    everyone = run_search(service(query_conn, embedder, None, 2), Q, k=5).hits
    assert [h.path for h in everyone].count("secret/s.md") == 2


def test_the_setting_is_part_of_the_cache_key(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    capped = run_search(service(query_conn, embedder, None, 2), Q + " key", k=5)
    off = run_search(service(query_conn, embedder, None, 0), Q + " key", k=5)
    assert not off.cache_hit
    assert [h.path for h in off.hits].count("secret/s.md") > 2  # not the capped result
    assert [h.path for h in capped.hits].count("secret/s.md") == 2
    again = run_search(service(query_conn, embedder, None, 2), Q + " key", k=5)
    assert again.cache_hit and [h.chunk_id for h in again.hits] == [h.chunk_id for h in capped.hits]
