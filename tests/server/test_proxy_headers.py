"""A trusted reverse proxy's user and role headers, over real HTTP: a proxy that adds its
header beside one the client sent (instead of replacing it) is refused, not guessed at."""

from __future__ import annotations

from pathlib import Path

import httpx

from netdocs.server.auth import PROXY_REPEATED

from .conftest import Served, start_server, stop_server

SEARCH = {"question": "how do I rotate wireguard keys"}


def _search(url: str, headers: list[tuple[str, str]]) -> httpx.Response:
    return httpx.post(url + "/v1/search", json=SEARCH, headers=headers, timeout=60)


def test_a_repeated_proxy_header_is_refused(served: Served, tmp_path: Path) -> None:
    env = {**served.env, "NETDOCS_TRUSTED_PROXIES": "127.0.0.1"}
    proc, url = start_server(env, tmp_path / "proxy.log")
    try:
        once = _search(url, [("X-Forwarded-User", "erin"), ("X-Forwarded-Role", "helpdesk")])
        assert once.status_code == 200, once.text
        # The client sent role "helpdesk"; an appending proxy then added the real one.
        for repeated in (
            [("X-Forwarded-Role", "admin"), ("X-Forwarded-Role", "helpdesk")],
            [("X-Forwarded-User", "root"), ("X-Forwarded-User", "erin")],
        ):
            others = [
                h
                for h in (("X-Forwarded-User", "erin"), ("X-Forwarded-Role", "helpdesk"))
                if h[0] != repeated[0][0]
            ]
            res = _search(url, [*repeated, *others])
            assert res.status_code == 401, (repeated, res.text)
            assert res.json()["detail"] == PROXY_REPEATED
        guess = "ndt_" + "A" * 43  # a token someone is guessing
        assert _search(url, [("Authorization", f"Bearer {guess}")]).status_code == 401
    finally:
        stop_server(proc)
    log = (tmp_path / "proxy.log").read_text()
    # Refusals leave a trace for the operator (address and reason), never the token tried.
    assert log.count("POST /v1/search from 127.0.0.1 refused (401)") == 3, log
    assert PROXY_REPEATED in log and guess not in log
