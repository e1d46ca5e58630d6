"""`netdocs serve --workers 2`: two processes share the port, each with its own runtime built
from what the parent was given (--policy), and each enforces the tokens."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import psycopg
import yaml

from netdocs.server.tokens import create_token, revoke_token

from .conftest import POLICY, Served, start_server, stop_server
from .test_serve import QUESTIONS, _visible_to


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _codes(url: str, token: str) -> set[int]:
    """The status codes of 20 searches with ``token``, each on a new connection (the kernel
    spreads them over both workers)."""
    return {
        httpx.post(
            url + "/v1/search",
            json={"question": "vpn"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).status_code
        for _ in range(20)
    }


def test_two_worker_processes_serve_the_policy_given_on_the_command_line(
    served: Served, tmp_path: Path
) -> None:
    # The --policy file drops a role the stored policy has: a worker that fell back to the
    # stored policy would answer that role's token 200. (A role the file adds would be
    # refused either way until an ingest stores the file: see test_policy_guard.py.)
    data = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    del data["roles"]["network_engineer"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {k: v for k, v in served.env.items() if k != "NETDOCS_POLICY"}  # only --policy
    proc, url = start_server(
        env, tmp_path / "workers.log", "--workers", "2", "--policy", str(policy)
    )
    try:
        pids: set[int] = set()
        for _ in range(200):  # a new connection each time: the kernel spreads them
            health = httpx.get(url + "/healthz", timeout=10).json()
            assert health["status"] == "ok" and health["policy"] == "ok", health
            pids.add(health["process"])
            if len(pids) == 2:
                break
        assert len(pids) == 2 and proc.pid not in pids, pids
        visible = _visible_to("helpdesk")
        with psycopg.connect(served.db_url, autocommit=True) as conn:  # the CLI is tested apart
            info, token = create_token(conn, "dave", "helpdesk")
            _, dropped = create_token(conn, "erin", "network_engineer")
        refused = _codes(url, dropped)
        assert refused == {403}, refused
        for q in QUESTIONS * 2:
            r = httpx.post(
                url + "/v1/search",
                json={"question": q, "k": 10},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            assert all(visible(h["path"]) for h in r.json()["results"]), r.json()
        with psycopg.connect(served.db_url, autocommit=True) as conn:
            revoke_token(conn, info.token_id)
        time.sleep(float(served.env["NETDOCS_SERVE_TOKEN_CACHE_S"]))  # each worker's bound
        codes = _codes(url, token)
        assert codes == {401}, codes
    finally:
        stopped = stop_server(proc, timeout=30)
    assert stopped, "the server did not stop on SIGTERM"
    deadline = time.monotonic() + 10
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, pids)), "worker processes outlived the server"
