"""Database lifecycle: migrations are versioned and idempotent; a server where pgvector
cannot be created gives a clear error; passwords never appear in messages."""

from __future__ import annotations

import psycopg
import pytest

from netdocs.db import connect, redact
from netdocs.errors import DatabaseError
from netdocs.store.schema import migrate


def test_migrations_apply_once(db_url: str) -> None:
    from netdocs.store.schema import _migrations

    latest = max(v for v, _ in _migrations())
    assert migrate(db_url) == latest
    assert migrate(db_url) == latest  # idempotent
    with psycopg.connect(db_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert versions == [(v,) for v in sorted(v for v, _ in _migrations())]  # each once
    assert {"documents", "chunks", "embedding_cache", "runs", "quarantine"} <= tables


def test_missing_pgvector_is_named(make_db: object, server_url: str) -> None:
    name = make_db()  # type: ignore[operator]
    dbname = psycopg.conninfo.conninfo_to_dict(name)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS netdocs_limited")
        admin.execute("CREATE ROLE netdocs_limited LOGIN")
    with psycopg.connect(name, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f"REVOKE CREATE ON DATABASE {dbname} FROM PUBLIC")
    info = psycopg.conninfo.conninfo_to_dict(name)
    info["user"] = "netdocs_limited"
    limited = psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v})
    try:
        with pytest.raises(DatabaseError, match="pgvector") as e:
            migrate(limited)
        assert "netdocs_limited" in str(e.value)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute("DROP ROLE IF EXISTS netdocs_limited")


def test_connection_errors_hide_the_password() -> None:
    url = "postgresql://netdocs:hunter2-secret@127.0.0.1:1/netdocs"
    with pytest.raises(DatabaseError) as e:
        connect(url)
    assert "hunter2-secret" not in str(e.value) and "***" in str(e.value)
    assert "hunter2-secret" not in redact(url)
