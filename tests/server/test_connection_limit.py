"""NETDOCS_SERVE_MAX_CONNECTIONS over real sockets: a server process keeps N connections
(idle keep-alive ones included) and answers a request on one more with 503 at once, so a
flood of sockets cannot exhaust it even with no proxy in front."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from .conftest import Served, start_server, stop_server


def test_a_connection_beyond_the_limit_gets_503_and_those_within_are_served(
    served: Served, tmp_path: Path
) -> None:
    env = {**served.env, "NETDOCS_SERVE_MAX_CONNECTIONS": "3"}
    proc, url = start_server(env, tmp_path / "connections.log")
    port = int(url.rsplit(":", 1)[1])
    held: list[socket.socket] = []
    try:
        with httpx.Client(base_url=url, timeout=10) as first:  # one kept-alive connection
            assert first.get("/healthz").status_code == 200
            held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
            time.sleep(0.3)  # the server has accepted them: three open, the limit
            with httpx.Client(base_url=url, timeout=10) as extra:
                refused = extra.get("/healthz")
            assert refused.status_code == 503, refused.text
            assert first.get("/healthz").status_code == 200  # the three keep being served
        for s in held:
            s.close()
        deadline, status = time.monotonic() + 10, 0
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.1)
            status = httpx.get(url + "/healthz", timeout=10).status_code
        assert status == 200  # closed connections free their places
    finally:
        for s in held:
            s.close()
        stop_server(proc)
