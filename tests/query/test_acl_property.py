"""Properties: a tag set never receives a chunk outside its tags, whatever the tags and query;
and on the sample ingested under examples/tags.yaml, a role only ever gets files the policy
file lets it read (computed from the YAML by tests/policy_oracle.py, not by netdocs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdocs.db import connect
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.search import clean_text, dense_hits, fulltext_hits, search
from tests import policy_oracle as oracle

NASTY_TAGS = [
    "faq",
    "configs",
    "vpn",
    "it's",
    'say "hi"',
    "x'); DROP TABLE chunks;--",
    "{a,b}",
    "NULL",
    "back\\slash",
    "",
    " ",
    "ünïcødé",
    "a,b",
    "%(allowed)s",
    "$1",
    "tag]",
    "[tag",
]
SQL_QUERIES = [
    "'; DROP TABLE chunks; --",
    "1' OR '1'='1",
    '") OR true --',
    "%(allowed)s",
    "$1::text[]",
    "BGP peer",
    "wireguard key",
    "' UNION SELECT chunk_id FROM chunks --",
    "-",
    '"',
    "or",
]
TEXTS = [
    "Add a BGP peer with neighbor remote-as.",
    "WireGuard private key handling.",
    "Firewall rule drops input packets.",
    "Chrony serves NTP time to clients.",
    "DHCP lease time and reservations.",
    "OSPF area border router design.",
]

# Stored tags cannot contain NUL or lone surrogates; allowed tags and queries may.
stored_text = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=8
)
tag_sets = st.lists(st.sampled_from(NASTY_TAGS) | stored_text, max_size=3)
docs = st.lists(
    st.tuples(tag_sets, st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3)),
    min_size=1,
    max_size=12,
)
allowed_sets = st.none() | st.frozensets(
    st.sampled_from(NASTY_TAGS) | st.text(max_size=8), max_size=4
)
queries = st.sampled_from(SQL_QUERIES + TEXTS) | st.text(max_size=40)


@pytest.fixture(scope="module")
def conn(query_db: str, query_conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A transactional connection (each example rolls back); the HNSW index exists."""
    c = connect(query_db)
    yield c
    c.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=docs,
    allowed=allowed_sets,
    query=queries,
    k=st.integers(1, 8),
    exact=st.sampled_from([None, True, False]),
)
def test_role_never_sees_a_chunk_outside_its_tags(
    conn: psycopg.Connection,
    embedder: HashingEmbedder,
    corpus: list[tuple[list[str], list[str]]],
    allowed: frozenset[str] | None,
    query: str,
    k: int,
    exact: bool | None,
) -> None:
    with conn.transaction(force_rollback=True):
        tags_of: dict[str, list[str]] = {}
        rows = []
        for d, (tags, texts) in enumerate(corpus):
            doc_id = f"doc{d}.md"
            conn.execute(
                "INSERT INTO documents (doc_id, content_hash, meta_hash, tags, chunk_count,"
                " run_id) VALUES (%s, 'c', 'm', %s, %s, gen_random_uuid())",
                (doc_id, tags, len(texts)),
            )
            for i, text in enumerate(texts):
                cid = hashlib.sha256(f"{d}/{i}".encode()).hexdigest()[:16]
                tags_of[cid] = tags
                rows.append(
                    (cid, doc_id, i, ["H"], "H", text, "h", 3, tags, embedder.embed([text])[0])
                )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, heading_path, heading, text,"
                " text_hash, token_count, tags, embedding)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        # The rule, written here: visible when any stored tag is allowed (None = all).
        permitted = {cid for cid, tags in tags_of.items() if allowed is None or set(tags) & allowed}
        vec = embedder.embed([clean_text(query)])[0]

        dense = dense_hits(conn, vec, allowed, k, embedder.dim, exact=exact)
        text = fulltext_hits(conn, query, allowed, k)
        fused = search(conn, query, vec, allowed, k, dim=embedder.dim)
        for hits in (dense, text, fused):
            assert {h.chunk_id for h in hits} <= permitted
        # The filter never costs rows: k permitted rows exist -> k rows come back.
        assert len(dense) == min(k, len(permitted))
        assert len(fused) == min(k, len(permitted))
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (len(rows),)


POLICY = Path(__file__).resolve().parents[2] / "examples" / "tags.yaml"
ROLES = sorted(oracle.load(POLICY)["roles"])


@pytest.fixture(scope="module")
def sample_conn(sample_db: str) -> Iterator[psycopg.Connection]:
    c = connect(sample_db, autocommit=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def visible_chunks(sample_conn: psycopg.Connection) -> dict[str, int]:
    """Per role: how many stored chunks the policy file lets it read."""
    policy = oracle.load(POLICY)
    paths = [r[0] for r in sample_conn.execute("SELECT doc_id FROM chunks").fetchall()]
    return {
        role: sum(oracle.sees(policy, role, oracle.tags_of(policy, p)) for p in paths)
        for role in ROLES
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    role=st.sampled_from(ROLES),
    query=st.sampled_from(SQL_QUERIES + TEXTS) | st.text(max_size=40),
    k=st.integers(1, 12),
    mode=st.sampled_from(["fused", "dense", "fulltext"]),
)
def test_a_role_gets_only_what_the_policy_file_allows(
    sample_conn: psycopg.Connection,
    embedder: HashingEmbedder,
    visible_chunks: dict[str, int],
    role: str,
    query: str,
    k: int,
    mode: str,
) -> None:
    from netdocs.query.service import SearchService

    policy = oracle.load(POLICY)
    service = SearchService.for_role(role, POLICY, conn=sample_conn, embedder=embedder)
    hits = service.search(query, k=k, mode=mode)  # type: ignore[arg-type]
    denied = [h.path for h in hits if not oracle.sees(policy, role, oracle.tags_of(policy, h.path))]
    assert denied == [], f"{role} got {denied}"
    if mode == "dense":  # the filter never costs rows
        assert len(hits) == min(k, visible_chunks[role])
