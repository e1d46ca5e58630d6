"""Post-query hooks and the cache TTL, through netdocs.query.api on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.errors import DatabaseError
from netdocs.query.answerer import Answerer
from netdocs.query.api import run_ask, run_search
from netdocs.query.hooks import QueryRecord, add_hook
from netdocs.query.service import SearchService


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: Callable[..., None]) -> None:
    add_doc("faq/bgp.md", ["faq"], [("FAQ > BGP", "Q: What is a BGP peer? A: a neighbour.")])
    add_doc("vpn/keys.md", ["vpn"], [("Keys", "Generate a WireGuard BGP key with wg genkey.")])


def service(conn: psycopg.Connection, embedder: HashingEmbedder, ttl: str = "24h") -> SearchService:
    settings = Settings(llm_provider="none", user="carol", query_cache_ttl=ttl)
    return SearchService(frozenset({"faq"}), settings=settings, conn=conn, embedder=embedder)


def test_hooks_receive_a_record_of_every_query(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    records: list[QueryRecord] = []

    def broken(record: QueryRecord) -> None:
        raise RuntimeError("a metrics backend is down")

    remove = add_hook(records.append)
    remove_broken = add_hook(broken)
    try:
        svc = service(query_conn, embedder)
        first = run_search(svc, "what is a BGP peer", k=3)
        second = run_search(svc, "What is a BGP peer?", k=3)
        answer = run_ask(svc, "what is a BGP peer", k=3, answerer=Answerer(svc.settings, chat=None))
    finally:
        remove()
        remove_broken()
    run_search(svc, "after removal", k=3)
    assert [r.query_id for r in records] == [first.query_id, second.query_id, answer.query_id]
    assert [(r.action, r.cache_hit) for r in records] == [
        ("search", False),
        ("search", True),
        ("ask", False),
    ]
    assert all(r.user == "carol" and r.tags == ("faq",) and r.role is None for r in records)
    assert records[0].paths == ("faq/bgp.md",) == records[1].paths
    assert records[0].chunk_ids == tuple(h.chunk_id for h in first.hits)
    assert records[2].answer_mode == "fallback" and records[2].k == 3
    assert records[0].question == "what is a BGP peer" and records[0].latency_ms > 0


def test_entries_expire_after_the_ttl(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    svc = service(query_conn, embedder, ttl="1h")
    assert not run_search(svc, "wireguard faq question", k=2).cache_hit
    assert run_search(svc, "wireguard faq question", k=2).cache_hit
    query_conn.execute("UPDATE query_cache SET created_at = now() - interval '61 minutes'")
    assert not run_search(svc, "wireguard faq question", k=2).cache_hit
    off = service(query_conn, embedder, ttl="0")
    assert not run_search(off, "wireguard faq question", k=2).cache_hit


def test_no_result_without_its_audit_row(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    svc = service(query_conn, embedder)
    query_conn.execute(
        "ALTER TABLE audit_log ADD CONSTRAINT test_refuse CHECK (question <> 'refused question')"
    )
    try:
        with pytest.raises(DatabaseError, match="audit log could not be written"):
            run_search(svc, "refused question", k=2)
    finally:
        query_conn.execute("ALTER TABLE audit_log DROP CONSTRAINT test_refuse")


def _rows(conn: psycopg.Connection, table: str, query_id: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE query_id = %s", (query_id,)).fetchone()
    return int(row[0]) if row else 0


def test_a_refused_metric_row_keeps_the_answer_and_its_audit_row(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    """The audit and metric rows go in one transaction; when the metric half is refused the
    answer is still returned, with its audit row written alone."""
    svc = service(query_conn, embedder)
    kept = run_search(svc, "what is a BGP peer, metric kept", k=3)
    assert _rows(query_conn, "audit_log", kept.query_id) == 1
    assert _rows(query_conn, "query_metrics", kept.query_id) == 1
    query_conn.execute("ALTER TABLE query_metrics ADD CONSTRAINT test_refuse_k CHECK (k <> 4)")
    try:
        refused = run_search(svc, "what is a BGP peer, metric refused", k=4)
    finally:
        query_conn.execute("ALTER TABLE query_metrics DROP CONSTRAINT test_refuse_k")
    assert [h.path for h in refused.hits] == ["faq/bgp.md"]
    assert _rows(query_conn, "audit_log", refused.query_id) == 1
    assert _rows(query_conn, "query_metrics", refused.query_id) == 0
