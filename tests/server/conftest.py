"""A real `netdocs serve` in a subprocess, on a database ingested from examples/sample-docs
with examples/tags.yaml (through a real Prefect server), plus tokens made by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from netdocs.devserver import free_port

from ..conftest import REPO
from ..integration.conftest import prefect_api, run_cli  # noqa: F401  (fixture re-export)

SAMPLE = REPO / "examples" / "sample-docs"
POLICY = REPO / "examples" / "tags.yaml"


@dataclass
class Served:
    """The running server and what the tests need to talk to it."""

    url: str
    db_url: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # user -> token
    proc: subprocess.Popen[str] | None = None

    def client(self, token: str | None = None, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def token(self, user: str, role: str) -> str:
        res = run_cli(self.env, "token", "create", "--user", user, "--role", role, "--json")
        assert res.code == 0, res.stderr
        return str(res.json()["token"])


def start_server(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`netdocs serve ARGS` on a free port; returns once /healthz answers 200."""
    port = free_port()
    out = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "serve", "--port", str(port), *args],
        env=env,
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise AssertionError(f"server did not become healthy: {log.read_text()}")


def stop_server(proc: subprocess.Popen[str], timeout: float = 15) -> bool:
    """SIGTERM, then SIGKILL after ``timeout`` s; True when it stopped on SIGTERM."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


@pytest.fixture(scope="session")  # one ingest + server for every module (none restarts it)
def served(
    prefect_api: str,  # noqa: F811
    server_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """Ingest the sample docs into a fresh database, create tokens, start the server.

    Shared by the whole session: the tests that use it only add their own rows (queries,
    feedback, tokens) and assert on those or on counts relative to before."""
    name = f"t_serve_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    db_url = psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})
    tmp = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp / "prefect-client"),
        "NETDOCS_DATABASE_URL": db_url,
        "NETDOCS_EMBEDDING_PROVIDER": "hashing",
        "NETDOCS_LLM_PROVIDER": "none",
        "NETDOCS_POLICY": str(POLICY),
        "NETDOCS_SERVE_MAX_CONCURRENT": "1",
        "NETDOCS_SERVE_TOKEN_CACHE_S": "1",  # a revoked token is refused within 1 s
        "NETDOCS_SERVE_METRICS_CACHE_S": "0",  # /metrics shows the query just made
        "PYTHONUNBUFFERED": "1",
    }
    res = run_cli(env, "ingest", str(SAMPLE), "--policy", str(POLICY), "--json")
    assert res.code == 0, res.stderr
    proc, url = start_server(env, tmp / "server.log")
    served = Served(url, db_url, env, proc=proc)
    served.tokens["alice"] = served.token("alice", "helpdesk")
    served.tokens["root"] = served.token("root", "admin")
    try:
        yield served
    finally:
        stop_server(proc)
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
