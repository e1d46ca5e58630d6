"""SIGKILL an ingest at random moments; re-running must converge to a clean ingest's index."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ..conftest import REPO, copy_corpus
from .conftest import run_cli

ITERATIONS = int(os.environ.get("NETDOCS_CRASH_ITERATIONS", "6"))


def consistency_problems(url: str) -> list[str]:
    """Invariants that must hold after any crash: no half-written document."""
    with psycopg.connect(url) as conn:
        bad_counts = conn.execute(
            "SELECT d.doc_id FROM documents d LEFT JOIN chunks c USING (doc_id)"
            " GROUP BY d.doc_id, d.chunk_count HAVING count(c.chunk_id) <> d.chunk_count"
        ).fetchall()
        orphans = conn.execute(
            "SELECT count(*) FROM chunks c WHERE NOT EXISTS"
            " (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id)"
        ).fetchone()
    problems = [f"chunk count mismatch: {r[0]}" for r in bad_counts]
    if orphans and orphans[0]:
        problems.append(f"{orphans[0]} orphan chunks")
    return problems


def fingerprint(env: dict[str, str]) -> str:
    from netdocs.db import connection
    from netdocs.store.status import fingerprint as digest

    with connection(env["NETDOCS_DATABASE_URL"]) as conn:
        return digest(conn)


def ingest_until_done(env: dict[str, str], docs: Path) -> dict[str, object]:
    for _ in range(5):
        result = run_cli(env, "ingest", str(docs), "--json")
        if result.code == 0:
            return dict(result.json())
        assert "another ingest" in result.stderr, result.stderr
        time.sleep(1)
    raise AssertionError("the ingest lock was never released")


def wait_for_run_start(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Poll until the run is recorded in the database (its working phase begins)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                row = conn.execute("SELECT count(*) FROM runs WHERE finished_at IS NULL").fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row and row[0]:
                return True
            time.sleep(0.01)
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_converges(
    tmp_path: Path, cli_env: dict[str, str], make_db: Callable[[], str]
) -> None:
    docs = copy_corpus(
        tmp_path / "docs",
        "routing/bird",
        "routing/frr",
        "dns/bind9",
        "ipv6/radvd",
        "switching/lldpd",
    )
    rng = random.Random(int(os.environ.get("NETDOCS_CRASH_SEED", "20261127")))

    reference_env = {**cli_env, "NETDOCS_DATABASE_URL": make_db()}
    reference = ingest_until_done(reference_env, docs)
    assert not reference["failed"] and reference["chunks_embedded"]
    expected = fingerprint(reference_env)
    work_s = float(reference["duration_s"])  # type: ignore[arg-type]

    kills_in_work_phase = 0
    for i in range(ITERATIONS):
        url = make_db()
        env = {**cli_env, "NETDOCS_DATABASE_URL": url}
        for _ in range(1 + i % 2):  # every other iteration crashes twice in a row
            proc = subprocess.Popen(
                [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            started = wait_for_run_start(url, proc)
            time.sleep(rng.uniform(0, work_s * 1.1) if started else rng.uniform(0, 1))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills_in_work_phase += started
            proc.wait()
            assert consistency_problems(url) == [], f"iteration {i}: inconsistent after SIGKILL"
        final = ingest_until_done(env, docs)
        assert not final["failed"]
        assert fingerprint(env) == expected, f"iteration {i}: did not converge"
        assert consistency_problems(url) == []
    assert kills_in_work_phase >= ITERATIONS // 2  # the kills really hit running ingests
