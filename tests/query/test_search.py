"""Hybrid search on real PostgreSQL: modes, access control, filtered HNSW queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdocs.db import connect
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query import sql
from netdocs.query.search import DEFAULT_STALE_MAX_AGE as STALE
from netdocs.query.search import clean_text, dense_hits, fulltext_hits, search
from netdocs.query.terms import quote_lexeme

InsertDoc = Callable[..., None]

DOCS = {
    "routing/bgp.md": (
        ["configs", "runbooks"],
        [
            ("BGP > Neighbors", "Add a BGP peer with neighbor 192.0.2.1 remote-as 65001."),
            ("BGP > Timers", "Keepalive and hold timers default to 60 and 180 seconds."),
        ],
    ),
    "vpn/wireguard.md": (
        ["vpn", "security_policies"],
        [
            ("WireGuard > Keys", "Generate a private key with wg genkey; never share it."),
        ],
    ),
    "faq/general.md": (
        ["faq"],
        [
            ("FAQ > Peers", "Why does my BGP peer flap? Check the hold timer and MTU."),
        ],
    ),
    "odd/quotes.md": (
        ['it\'s "odd"', "x'); DROP TABLE chunks;--"],
        [
            ("Odd > Tags", "A document with hostile tags still answers about BGP peer groups."),
        ],
    ),
}


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: InsertDoc) -> None:
    for doc_id, (tags, sections) in DOCS.items():
        add_doc(doc_id, tags, sections)


def _search(conn: psycopg.Connection, emb: HashingEmbedder, text: str, **kw: object) -> list:
    return search(conn, text, emb.embed([text])[0], **kw)  # type: ignore[arg-type]


def test_fused_search_returns_result_fields(query_conn, embedder) -> None:
    hits = _search(query_conn, embedder, "how do I add a BGP peer", allowed=None, k=3)
    assert len(hits) == 3
    top = hits[0]
    assert top.path == "routing/bgp.md"
    assert top.heading == "BGP > Neighbors" and top.heading_path == ("BGP", "Neighbors")
    assert "remote-as" in top.text and len(top.chunk_id) == 32
    assert top.score > 0 and top.cosine is not None and top.all_terms
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_modes(query_conn, embedder) -> None:
    vec = embedder.embed(["wireguard private key"])[0]
    dense = search(query_conn, "wireguard private key", vec, None, k=2, mode="dense")
    text = search(query_conn, "wireguard private key", vec, None, k=2, mode="fulltext")
    assert dense[0].path == text[0].path == "vpn/wireguard.md"
    assert dense[0].score == pytest.approx(dense[0].cosine)
    assert text[0].score == pytest.approx(text[0].text_rank)
    assert len(dense) == 2  # dense always fills k when k rows exist
    with pytest.raises(ValueError):
        search(query_conn, "x", vec, None, mode="bogus")  # type: ignore[arg-type]


def test_role_filter_is_applied_in_sql(query_conn, embedder) -> None:
    hits = _search(query_conn, embedder, "BGP peer private key", allowed=frozenset({"faq"}), k=5)
    assert [h.path for h in hits] == ["faq/general.md"]
    hits = _search(query_conn, embedder, "BGP peer", allowed=frozenset({'it\'s "odd"'}), k=5)
    assert [h.path for h in hits] == ["odd/quotes.md"]
    assert _search(query_conn, embedder, "BGP", allowed=frozenset(), k=5) == []
    assert _search(query_conn, embedder, "BGP", allowed=frozenset({"nope"}), k=5) == []


def test_hostile_query_text_is_just_text(query_conn, embedder) -> None:
    for text in ["'; DROP TABLE chunks; --", '"unbalanced', "a & | ! ( :*", "-", "or and not"]:
        _search(query_conn, embedder, text, allowed=frozenset({"faq"}), k=3)
    assert query_conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 5


def test_fulltext_prefers_chunks_matching_all_terms(query_conn) -> None:
    hits = fulltext_hits(query_conn, "BGP peer flap", None, 10)
    assert hits[0].path == "faq/general.md" and hits[0].all_terms
    assert not hits[-1].all_terms  # other chunks match some words only


def test_empty_query_text_and_k_zero(query_conn, embedder) -> None:
    vec = embedder.embed(["BGP"])[0]
    assert search(query_conn, "", vec, None, k=0) == []
    assert search(query_conn, "   ", vec, None, k=2, mode="fulltext") == []
    assert len(search(query_conn, "   ", vec, None, k=2)) == 2  # dense still answers


def test_wrong_vector_dimension_is_an_error(query_conn) -> None:
    with pytest.raises(ValueError, match="384"):
        dense_hits(query_conn, np.zeros(10, dtype=np.float32), None, 5, 384)


RARE = 10
TOTAL = 2000


@pytest.fixture(scope="module")
def rare_rows(query_conn) -> np.ndarray:
    """2000 random unit vectors under one document; only 10 chunks carry the tag 'rare'."""
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(TOTAL, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = []
    for i, v in enumerate(vecs):
        tags = ["rare"] if i % (TOTAL // RARE) == 0 else ["common"]
        rows.append(
            (f"bulk-{i:05d}", "bulk/many.md", i, ["Bulk"], "Bulk", f"row {i}", f"h{i}", 3, tags, v)
        )
    with query_conn.transaction():
        query_conn.execute(
            "INSERT INTO documents (doc_id, content_hash, meta_hash, tags, chunk_count, run_id)"
            " VALUES ('bulk/many.md', 'c', 'm', '{common,rare}', %s, gen_random_uuid())",
            (TOTAL,),
        )
        with query_conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, heading_path, heading, text,"
                " text_hash, token_count, tags, embedding)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    query_conn.execute("ANALYZE chunks")
    return vecs


@pytest.fixture(scope="module")
def plain_conn(query_db: str, rare_rows: np.ndarray) -> Iterator[psycopg.Connection]:
    """A connection that never prepares statements, so each query is planned afresh."""
    conn = connect(query_db, autocommit=True)
    conn.prepare_threshold = None
    yield conn
    conn.close()


@contextmanager
def forced_index(conn: psycopg.Connection, on: bool) -> Iterator[None]:
    """A transaction in which the planner must use the HNSW index (when ``on``)."""
    with conn.transaction():
        if on:
            conn.execute("SET LOCAL enable_seqscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
        yield


def _plan(conn: psycopg.Connection, vec: np.ndarray) -> str:
    stmt = psycopg.sql.SQL("EXPLAIN ") + sql.dense_sql(384, restricted=True)
    rows = conn.execute(
        stmt, {"q": vec, "n": 10, "allowed": ["rare"], "stale_max_age": STALE}
    ).fetchall()
    return "\n".join(r[0] for r in rows)


def test_planner_choices(plain_conn, rare_rows) -> None:
    # For so rare a tag PostgreSQL itself prefers the tag index (an exact scan) ...
    assert "chunks_embedding_hnsw_384" not in _plan(plain_conn, rare_rows[1])
    # ... which the HNSW tests below switch off, to exercise the iterative index scan.
    with forced_index(plain_conn, True):
        assert "chunks_embedding_hnsw_384" in _plan(plain_conn, rare_rows[1])


@pytest.mark.parametrize("force_index", [True, False])
@pytest.mark.parametrize("exact", [False, True, None])
@pytest.mark.parametrize("k", [5, RARE])
def test_filtered_query_with_k_permitted_rows_returns_k(
    plain_conn, rare_rows, exact, k, force_index
) -> None:
    allowed = frozenset({"rare"})
    for probe in (1, 2, 999):
        with forced_index(plain_conn, force_index and exact is False):
            hits = dense_hits(plain_conn, rare_rows[probe], allowed, k, 384, exact=exact)
        assert len(hits) == k
        assert all(h.chunk_id.startswith("bulk-") and int(h.chunk_id[5:]) % 200 == 0 for h in hits)
        if k == RARE:
            assert {h.chunk_id for h in hits} == {f"bulk-{i:05d}" for i in range(0, TOTAL, 200)}


@pytest.mark.parametrize("k", [5, RARE])
def test_iterative_index_scan_alone_fills_k(plain_conn, rare_rows, k) -> None:
    """No exact re-check needed: the HNSW scan itself returns the k permitted rows."""
    for probe in (1, 2, 999):
        with forced_index(plain_conn, True):
            plain_conn.execute(sql.SCAN_SETTINGS, {"ef": "64"})
            rows = plain_conn.execute(
                sql.dense_sql(384, restricted=True),
                {"q": rare_rows[probe], "n": k, "allowed": ["rare"], "stale_max_age": STALE},
            ).fetchall()
        assert len(rows) == k


def test_without_iterative_scan_the_index_would_lose_rows(plain_conn, rare_rows) -> None:
    """The failure the iterative scan fixes: an HNSW scan capped by ef_search, then filtered."""
    with forced_index(plain_conn, True):
        plain_conn.execute("SET LOCAL hnsw.iterative_scan = off")
        rows = plain_conn.execute(
            sql.dense_sql(384, restricted=True),
            {"q": rare_rows[1], "n": RARE, "allowed": ["rare"], "stale_max_age": STALE},
        ).fetchall()
    assert len(rows) < RARE


def test_unfiltered_large_k_fills(query_conn, rare_rows) -> None:
    hits = dense_hits(query_conn, rare_rows[3], None, 200, 384)
    assert len(hits) == 200 and hits[0].chunk_id == "bulk-00003"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=60)
    | st.sampled_from(
        [
            "it's a 'quoted' \\ back\\slash",
            "/etc/chrony.conf:12",
            "a:b & c | !d <-> e",
            "10.0.0.1/24",
        ]
    )
)
def test_every_query_lexeme_quotes_into_a_matching_tsquery(query_conn, text: str) -> None:
    text = clean_text(text)
    lexemes = query_conn.execute(sql.QUERY_LEXEMES, (text,)).fetchone()[0]
    for lex in lexemes:
        row = query_conn.execute(
            "SELECT to_tsvector('english', %s) @@ %s::tsquery", (text, quote_lexeme(lex))
        ).fetchone()
        assert row == (True,)


def test_ranking_statements_are_never_prepared(query_db: str, embedder) -> None:
    """Generic plans of prepared statements ignore the filter's selectivity (10x slower)."""
    conn = connect(query_db, autocommit=True)
    try:
        vec = embedder.embed(["BGP peer"])[0]
        for _ in range(8):
            search(conn, "BGP peer", vec, frozenset({"faq", "configs"}), 5, dim=384)
            search(conn, "BGP peer", vec, None, 5, dim=384)
        prepared = conn.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%chunks c%'"
        ).fetchall()
        assert prepared == []
    finally:
        conn.close()
