"""Versioned migrations and the index's embedding-model record."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

from netdocs.db import connect, redact
from netdocs.errors import DatabaseError, SchemaOutdated

log = logging.getLogger(__name__)

_LOCK_KEY = 0x6E6574646F6373  # "netdocs": serialises migrations between processes


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("netdocs.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> int:
    """Apply pending migrations (each in its own transaction); return the schema version."""
    with connect(url, vector=False) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.FeatureNotSupported as e:
            raise DatabaseError(f"pgvector is not available on {redact(url)}: {e}") from None
        except psycopg.errors.UndefinedFile as e:
            raise DatabaseError(
                f"the pgvector extension is not installed on {redact(url)} ({e}); "
                "install pgvector 0.8+ on that server"
            ) from None
        except psycopg.errors.InsufficientPrivilege as e:
            raise DatabaseError(
                f"pgvector is missing on {redact(url)} and this user may not create it: {e}"
            ) from None
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in _migrations():
                if version in done:
                    continue
                log.info("applying migration %03d", version)
                conn.execute(sql.encode())  # trusted, packaged SQL
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                done.add(version)
        return max(done) if done else 0


def missing_migrations(conn: psycopg.Connection) -> list[int]:
    """Packaged migrations this database lacks (all of them when it has no schema).

    Read-only: the query path calls it instead of migrating, so a SELECT-only role works.
    """
    try:
        with conn.transaction():
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    except psycopg.errors.UndefinedTable:
        done = set()
    return [v for v, _ in _migrations() if v not in done]


def require_schema(conn: psycopg.Connection) -> None:
    """Raise ``SchemaOutdated`` (saying what to run) unless every migration is applied."""
    missing = missing_migrations(conn)
    if missing:
        what = (
            "has no netdocs schema"
            if len(missing) == len(_migrations())
            else (f"lacks schema migration(s) {', '.join(f'{v:03d}' for v in missing)}")
        )
        raise SchemaOutdated(
            f"the database {what}; searching never changes it: run `netdocs db migrate` "
            "(or `netdocs ingest PATH`) as a user allowed to create tables, then search again"
        )


def _index_name(dim: int) -> str:
    return f"chunks_embedding_hnsw_{dim}"


def recorded_model(conn: psycopg.Connection) -> tuple[str, int] | None:
    """The (model id, dimension) the index was built with, if any."""
    rows: dict[str, str] = dict(conn.execute("SELECT key, value FROM index_meta").fetchall())
    if "embedding_model" not in rows:
        return None
    return rows["embedding_model"], int(rows["embedding_dim"])


def ensure_model(conn: psycopg.Connection, model_id: str, dim: int) -> None:
    """Record the embedding model of a new index (or check it is the recorded one).

    A different model never empties the index: it raises ``ModelChangeRefused`` (an ingest
    rebuilds beside the served vectors instead, see ``netdocs.store.generation``). The HNSW
    index is an expression index on ``embedding::vector(dim)`` so any dimension works.
    """
    from netdocs.store.generation import prepare_model

    prepare_model(conn, model_id, dim, reembed=False)


def ensure_vector_index(conn: psycopg.Connection, dim: int) -> None:
    """Create the HNSW index if it is missing (after a bulk load, or a crash during one)."""
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {_index_name(dim)} ON chunks USING hnsw "
        f"((embedding::vector({int(dim)})) vector_cosine_ops)"
    )


def drop_vector_index(conn: psycopg.Connection, dim: int) -> None:
    """Drop the HNSW index before a bulk load: building it afterwards is ~5x cheaper than
    maintaining it row by row. Queries meanwhile use an exact scan."""
    with conn.transaction():
        conn.execute(f"DROP INDEX IF EXISTS {_index_name(dim)}")
