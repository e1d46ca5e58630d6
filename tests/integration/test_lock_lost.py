"""A lost ingest lock stops the run: its session is terminated mid-run (real PostgreSQL),
the CLI exits 1 with a clear message and the run is recorded as aborted."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg

from ..conftest import REPO, copy_corpus
from .conftest import run_cli
from .test_crash import wait_for_run_start

LOCK_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objid = %s::bigint %% 4294967296 AND database = ("
    "SELECT oid FROM pg_database WHERE datname = current_database())"
)


def test_terminated_lock_session_aborts_the_run(
    tmp_path: Path, cli_env: dict[str, str], db_url: str
) -> None:
    from netdocs.ingest.lock import INGEST_LOCK_KEY

    docs = copy_corpus(tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd")
    env = {**cli_env, "NETDOCS_DOCS_PER_COMMIT_BATCH": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for_run_start(db_url, proc), "the run never started"
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(LOCK_HOLDER, (INGEST_LOCK_KEY,)).fetchone()
        assert row is not None, "nobody holds the ingest lock during the run"
        assert conn.execute("SELECT pg_terminate_backend(%s)", (row[0],)).fetchone() == (True,)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-2000:]
    assert "ingest lock was lost" in err and "Traceback" not in err, err[-2000:]
    assert out == ""  # no summary claiming a finished run
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status, finished_at IS NOT NULL FROM runs").fetchall()
        holders = conn.execute(LOCK_HOLDER, (INGEST_LOCK_KEY,)).fetchall()
    assert runs == [("aborted", True)]
    assert holders == []  # the lock was not taken again behind the run's back

    deadline = time.monotonic() + 10
    again = run_cli(cli_env, "ingest", str(docs), "--json")  # the next run converges
    while again.code != 0 and "another ingest run" in again.stderr and time.monotonic() < deadline:
        again = run_cli(cli_env, "ingest", str(docs), "--json")
    assert again.code == 0, again.stderr[-2000:]
    with psycopg.connect(db_url) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["aborted", "completed"]
