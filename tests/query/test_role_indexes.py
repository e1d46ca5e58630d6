"""A selective role gets its own partial HNSW index: built by the ingest flow, used by the
planner for the search's own ACL clause, searched without widening ``ef_search``, dropped
when the policy no longer has the role.

The sample is small, so ``MIN_ROWS`` is lowered for these tests; the role shares are those
of ``examples/tags.yaml`` (helpdesk: a small share; network_engineer: most chunks)."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from netdocs.db import connect
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.policy import load_policy, policy_from_text
from netdocs.query import search
from netdocs.query import sql as q
from netdocs.store import role_indexes

from ..conftest import SAMPLE, SAMPLE_TAGS

HELPDESK = frozenset({"faq", "troubleshooting_guides"})


def ingest(url: str, docs: Path, policy: Path) -> dict[str, Any]:
    from flows.ingest import ingest as flow
    from netdocs.config import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETDOCS_DATABASE_URL", url)
        mp.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
        mp.setattr(role_indexes, "MIN_ROWS", 5)
        get_settings.cache_clear()
        try:
            return dict(flow(path=str(docs), policy=str(policy)))
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def role_db(query_pg: Any, prefect_harness: None) -> Iterator[str]:
    """The sample ingested by the real flow (role indexes from 5 permitted chunks up)."""
    name = "r_" + uuid.uuid4().hex[:10]
    with psycopg.connect(query_pg.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = str(query_pg.get_uri(database=name))
    summary = ingest(url, SAMPLE, SAMPLE_TAGS)
    assert summary["new"] == 43 and not summary["failed"]
    yield url


def count(conn: psycopg.Connection, allowed: frozenset[str] | None = None) -> int:
    if allowed is None:
        row = conn.execute("SELECT count(*) FROM chunks").fetchone()
    else:
        row = conn.execute(
            "SELECT count(*) FROM chunks WHERE tags && %s::text[]", (sorted(allowed),)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_flow_builds_an_index_for_the_selective_role_only(role_db: str) -> None:
    policy = load_policy(SAMPLE_TAGS)
    engineer = policy.allowed_tags("network_engineer")
    assert engineer is not None
    with psycopg.connect(role_db) as conn:
        total = count(conn)
        # the premises: helpdesk is selective, network_engineer is not
        assert 5 < count(conn, HELPDESK) <= role_indexes.MAX_SHARE * total
        assert count(conn, engineer) > role_indexes.MAX_SHARE * total
        names = role_indexes.existing(conn)
    assert names == {role_indexes.index_name(HashingEmbedder().dim, HELPDESK)}


def test_the_planner_takes_the_role_index_for_the_search_statement(role_db: str) -> None:
    dim = HashingEmbedder().dim
    name = role_indexes.index_name(dim, HELPDESK)
    vec = HashingEmbedder().embed(["chronyc cannot talk to daemon"])[0]
    stmt = q.dense_sql(dim, restricted=True)
    params = search._params(HELPDESK, q=vec, n=10)
    with connect(role_db) as conn, conn.transaction():
        # the sample is tiny: a sequential scan would be cheaper; forbid it to see whether
        # the index *can* serve the clause (on a large table it is also the cheapest)
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        plan = "\n".join(
            r[0] for r in conn.execute(b"EXPLAIN " + stmt.as_bytes(conn), params).fetchall()
        )
    assert f"Index Scan using {name}" in plan


def test_a_search_with_a_role_index_sizes_ef_for_it_and_finds_the_exact_top(
    role_db: str, monkeypatch: pytest.MonkeyPatch, ef_shares: list[float]
) -> None:
    monkeypatch.setattr(role_indexes, "_cache", weakref.WeakKeyDictionary())
    emb = HashingEmbedder()
    with connect(role_db) as conn:
        for question in ("chronyc cannot talk to daemon", "dnssec validation failure"):
            vec = emb.embed([question])[0]
            got = search.dense_hits(conn, vec, HELPDESK, 5, emb.dim, exact=False)
            want = search.dense_hits(conn, vec, HELPDESK, 5, emb.dim, exact=True)
            assert [h.chunk_id for h in got] == [h.chunk_id for h in want]
    assert ef_shares == [search.ROLE_INDEX_SHARE] * 2  # not the tag statistics' share


def test_a_policy_without_the_role_drops_its_index(role_db: str, tmp_path: Path) -> None:
    text = SAMPLE_TAGS.read_text(encoding="utf-8")
    cut = text.replace("  helpdesk:\n    allow: [faq, troubleshooting_guides]\n", "")
    assert cut != text
    policy = tmp_path / "tags.yaml"
    policy.write_text(cut, encoding="utf-8")
    summary = ingest(role_db, SAMPLE, policy)
    assert any("dropped" in m for m in summary["messages"]), summary["messages"]
    with psycopg.connect(role_db) as conn:
        assert role_indexes.existing(conn) == set()


def test_many_selective_roles_get_at_most_max_indexes_the_most_selective_first() -> None:
    roles = "\n".join(f"  r{i}:\n    allow: [t{i}]" for i in range(12))
    vocabulary = "\n".join(f"  t{i}: tag {i}" for i in range(12))
    text = f"version: 1\ntag_vocabulary:\n{vocabulary}\nroles:\n{roles}\nrules: []\n"
    policy = policy_from_text(text, "many-roles.yaml")
    visible = {frozenset({f"t{i}"}): 3000 + 100 * i for i in range(12)}
    chosen = role_indexes.wanted_tag_sets(policy, visible, total=100_000)
    assert chosen == {frozenset({f"t{i}"}) for i in range(role_indexes.MAX_INDEXES)}
    # a role seeing too few chunks (scanned exactly) or too many gets none
    visible[frozenset({"t0"})] = role_indexes.MIN_ROWS
    visible[frozenset({"t1"})] = 30_000
    chosen = role_indexes.wanted_tag_sets(policy, visible, total=100_000)
    assert frozenset({"t0"}) not in chosen and frozenset({"t1"}) not in chosen
    assert len(chosen) == role_indexes.MAX_INDEXES
