"""TCP keepalives on remote database connections, none on Unix sockets (real PostgreSQL).

The session server listens on a Unix socket only, so a small TCP forwarder in front of it
gives libpq a real TCP connection whose socket options the test reads back.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg

from netdocs.db import KEEPALIVES, connect, keepalive_params


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextmanager
def tcp_forwarder(unix_path: str) -> Iterator[int]:
    """Listen on 127.0.0.1:PORT and forward each connection to ``unix_path``; yields PORT."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def _tcp_url(db_url: str, port: int, **extra: str) -> tuple[str, str]:
    info = {k: v for k, v in psycopg.conninfo.conninfo_to_dict(db_url).items() if v is not None}
    unix_path = f"{info['host']}/.s.PGSQL.{info.get('port', 5432)}"
    info.update(host="127.0.0.1", port=str(port), **extra)
    return psycopg.conninfo.make_conninfo(**info), unix_path


def _unix_path(db_url: str) -> str:
    return _tcp_url(db_url, 0)[1]


def test_tcp_connections_carry_keepalives(db_url: str) -> None:
    with tcp_forwarder(_unix_path(db_url)) as port:
        url, _ = _tcp_url(db_url, port)
        conn = connect(url, vector=False)
        try:
            params = conn.info.get_parameters()
            sock = socket.socket(fileno=conn.fileno())
            try:  # the options libpq set on the client's own socket
                enabled = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
                count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
            finally:
                sock.detach()  # the fd stays libpq's
            assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            conn.close()
    assert {k: params.get(k) for k in KEEPALIVES} == KEEPALIVES
    assert (enabled != 0, idle, interval, count) == (True, 30, 10, 3)


def test_values_in_the_url_win(db_url: str) -> None:
    with tcp_forwarder(_unix_path(db_url)) as port:
        url, _ = _tcp_url(db_url, port, keepalives_idle="7")
        with connect(url, vector=False) as conn:
            params = conn.info.get_parameters()
    assert params["keepalives_idle"] == "7" and params["keepalives_count"] == "3"


def test_unix_socket_connections_get_none(db_url: str) -> None:
    with connect(db_url, vector=False) as conn:
        params = conn.info.get_parameters()
        assert conn.info.host.startswith("/")  # really a Unix socket
    assert not set(KEEPALIVES) & set(params)


def test_keepalive_params_by_host() -> None:
    assert keepalive_params({"host": "db.example.net"}) == KEEPALIVES
    assert keepalive_params({"host": "/run/postgresql,db2"}) == KEEPALIVES  # one TCP host
    assert keepalive_params({"hostaddr": "10.0.0.5"}) == KEEPALIVES
    assert keepalive_params({"host": "/run/postgresql"}) == {}
    assert keepalive_params({"host": "@abstract"}) == {}
    assert keepalive_params({}) == {}  # libpq's default: the local socket
    assert keepalive_params({"host": "h", "keepalives": "0"}) == {
        k: v for k, v in KEEPALIVES.items() if k != "keepalives"
    }
