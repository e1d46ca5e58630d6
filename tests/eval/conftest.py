"""The bundled sample indexed once per module with the packaged model (no Prefect: the
ingest's own read/chunk/embed/commit pieces), for the retrieval gate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ..conftest import SAMPLE, SAMPLE_TAGS


@pytest.fixture(scope="module")
def sample_index(server_url: str) -> Iterator[str]:
    """A fresh database holding examples/sample-docs embedded by the local model; its URL."""
    from netdocs.config import Settings
    from netdocs.db import connect
    from netdocs.embedding.factory import get_embedder
    from netdocs.ingest.batch import load_and_chunk
    from netdocs.policy import load_policy
    from netdocs.store.policy_store import store_policy
    from netdocs.store.schema import ensure_model, migrate
    from netdocs.store.writer import commit_document

    name = f"eval_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})
    migrate(url)
    settings = Settings(database_url=url, embedding_provider="local")
    embedder = get_embedder(settings)
    doc_ids = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.md"))
    ready, failed = load_and_chunk(
        SAMPLE,
        doc_ids,
        load_policy(SAMPLE_TAGS),
        embedder,
        max_tokens=settings.chunk_max_tokens,
        max_bytes=settings.max_file_bytes,
    )
    assert not failed and len(ready) == 43
    with connect(url, autocommit=True) as conn:
        ensure_model(conn, embedder.model_id, embedder.dim)
        run = uuid.uuid4()
        for doc, chunks in ready:
            commit_document(conn, doc, chunks, embedder.embed([c.embed_text for c in chunks]), run)
        store_policy(conn, load_policy(SAMPLE_TAGS), run)  # as an ingest with --policy does
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
