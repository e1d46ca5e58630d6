"""Fixtures for end-to-end tests: a real Prefect server and the CLI in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netdocs.devserver import local_server

from ..conftest import REPO


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `prefect server start` for the session; yields its API URL."""
    with local_server(tmp_path_factory.mktemp("prefect-home")) as api:
        yield api


@dataclass
class CliResult:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as exactly one JSON document."""
        return json.loads(self.stdout)


@pytest.fixture
def cli_env(prefect_api: str, db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: the session's Prefect server and this test's DB."""
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "NETDOCS_DATABASE_URL": db_url,
        "PYTHONUNBUFFERED": "1",
    }


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> CliResult:
    """Run ``netdocs ARGS`` to completion."""
    proc = subprocess.run(
        [sys.executable, "-m", "netdocs.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def ingest_lock_holders(url: str) -> list[int]:
    """The backend pids holding the ingest lock on ``url`` (none, or one)."""
    import psycopg

    from netdocs.ingest.lock import INGEST_LOCK_KEY

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = %s::bigint %% 4294967296",
            (INGEST_LOCK_KEY,),
        ).fetchall()
    return [int(r[0]) for r in rows]
