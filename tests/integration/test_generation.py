"""Model generations on real PostgreSQL, without Prefect: the refusal and pending record,
the swap's all-or-nothing transaction, the query embedder for the recorded model."""

from __future__ import annotations

import hashlib
import uuid

import psycopg
import pytest

from netdocs.chunking import embed_text
from netdocs.config import Settings
from netdocs.db import connect
from netdocs.embedding.cache import store
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.errors import ConfigError, ModelChangeRefused
from netdocs.store import generation as g
from netdocs.store.schema import migrate, recorded_model
from netdocs.store.writer import commit_document
from netdocs.types import Chunk, SourceDoc

OLD, NEW = HashingEmbedder(384), HashingEmbedder(256)


@pytest.fixture
def conn(db_url: str) -> psycopg.Connection:
    migrate(db_url)
    c = connect(db_url)
    yield c
    c.close()


def _doc(conn: psycopg.Connection, doc_id: str, texts: list[str]) -> list[Chunk]:
    chunks = []
    for i, text in enumerate(texts):
        et = embed_text(("H",), text)
        h = hashlib.sha256(et.encode()).hexdigest()
        chunks.append(Chunk(f"{doc_id}#{i}", doc_id, i, ("H",), text, et, h, 5))
    doc = SourceDoc(doc_id, " ".join(texts), "c" * 64, ("faq",), "m" * 64, 10)
    commit_document(conn, doc, chunks, OLD.embed([c.embed_text for c in chunks]), uuid.uuid4())
    return chunks


def _count(conn: psycopg.Connection) -> tuple[int, list[tuple[int]]]:
    n = conn.execute("SELECT count(*) FROM chunks").fetchone()
    dims = conn.execute("SELECT DISTINCT vector_dims(embedding) FROM chunks").fetchall()
    conn.commit()
    return (n[0] if n else 0), dims


def test_refused_then_pending_then_abandoned(conn: psycopg.Connection) -> None:
    assert g.prepare_model(conn, OLD.model_id, 384, reembed=False) is None
    _doc(conn, "a.md", ["alpha text", "beta text"])
    with pytest.raises(ModelChangeRefused, match="--reembed"):
        g.prepare_model(conn, NEW.model_id, 256, reembed=False)
    assert g.pending_model(conn) is None
    rebuild = g.prepare_model(conn, NEW.model_id, 256, reembed=True)
    assert rebuild == g.Rebuild(OLD.model_id, 384, NEW.model_id, 256)
    assert g.prepare_model(conn, NEW.model_id, 256, reembed=False) == rebuild  # remembered
    assert g.pending_model(conn) == (NEW.model_id, 256)
    assert g.prepare_model(conn, OLD.model_id, 384, reembed=False) is None  # reverted
    assert g.pending_model(conn) is None and recorded_model(conn) == (OLD.model_id, 384)
    assert _count(conn) == (2, [(384,)])


def test_an_index_without_chunks_just_records_the_new_model(conn: psycopg.Connection) -> None:
    g.prepare_model(conn, OLD.model_id, 384, reembed=False)
    assert g.prepare_model(conn, NEW.model_id, 256, reembed=False) is None
    assert recorded_model(conn) == (NEW.model_id, 256)


def test_the_swap_is_all_or_nothing(conn: psycopg.Connection) -> None:
    g.prepare_model(conn, OLD.model_id, 384, reembed=False)
    kept = _doc(conn, "kept.md", ["kept one", "kept two"])
    _doc(conn, "b.md", ["old b"])
    rebuild = g.prepare_model(conn, NEW.model_id, 256, reembed=True)
    assert rebuild is not None
    new_b = SourceDoc("b.md", "new b", "d" * 64, ("faq",), "m" * 64, 5)
    et = embed_text(("H",), "new b")
    b_chunk = Chunk(
        "b.md#new", "b.md", 0, ("H",), "new b", et, hashlib.sha256(et.encode()).hexdigest(), 3
    )
    store(conn, NEW.model_id, {b_chunk.text_hash: NEW.embed([et])[0]})
    store(conn, NEW.model_id, {kept[0].text_hash: NEW.embed([kept[0].embed_text])[0]})
    conn.commit()
    with pytest.raises(g.RebuildIncomplete, match="1 kept chunk"):  # kept[1] has no vector
        g.swap(conn, rebuild, [(new_b, [b_chunk])], {}, uuid.uuid4())
    conn.rollback()
    assert _count(conn) == (3, [(384,)]) and recorded_model(conn) == (OLD.model_id, 384)

    store(conn, NEW.model_id, {kept[1].text_hash: NEW.embed([kept[1].embed_text])[0]})
    conn.commit()
    stats = g.swap(conn, rebuild, [(new_b, [b_chunk])], {}, uuid.uuid4())
    assert (stats.documents, stats.kept) == (1, 2)
    assert _count(conn) == (3, [(256,)]) and recorded_model(conn) == (NEW.model_id, 256)
    assert g.pending_model(conn) is None
    ids = {r[0] for r in conn.execute("SELECT chunk_id FROM chunks")}
    assert ids == {"kept.md#0", "kept.md#1", "b.md#new"}
    index = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'chunks_embedding_hnsw_%'"
    ).fetchall()
    assert len(index) == 1 and "vector(256)" in index[0][0]


def test_query_embedder_follows_the_recorded_model() -> None:
    from netdocs.embedding.factory import embedder_for_model

    settings = Settings(embedding_provider="openai", openai_api_key=None)
    emb = embedder_for_model(settings, "hashing/bow@256", 256)
    assert (emb.model_id, emb.dim) == ("hashing/bow@256", 256)
    with pytest.raises(ConfigError, match="openai/text-embedding-3-small@1536.*OPENAI_API_KEY"):
        embedder_for_model(
            Settings(embedding_provider="hashing", openai_api_key=None),
            "openai/text-embedding-3-small@1536",
            1536,
        )
    with pytest.raises(ConfigError, match="no embedder of that name"):
        embedder_for_model(settings, "mystery/model@12", 12)
