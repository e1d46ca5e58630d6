"""Two `netdocs ingest` processes started at once on one index: one runs, the other exits 1
with a clear message (advisory lock), and the index equals a clean single ingest."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ..conftest import REPO, copy_corpus
from .conftest import run_cli
from .test_crash import consistency_problems, fingerprint


def test_two_ingests_at_once(
    tmp_path: Path, cli_env: dict[str, str], make_db: Callable[[], str]
) -> None:
    docs = copy_corpus(tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd")
    # One document per batch: the run lasts long enough for the two to overlap.
    env = {**cli_env, "NETDOCS_DOCS_PER_COMMIT_BATCH": "1"}
    reference_env = {**env, "NETDOCS_DATABASE_URL": make_db()}
    reference = run_cli(reference_env, "ingest", str(docs), "--json")
    assert reference.code == 0, reference.stderr
    expected = fingerprint(reference_env)

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(p.returncode, out, err) for p in procs for out, err in [p.communicate(300)]]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    loser = next(o for o in outcomes if o[0] == 1)
    assert "another ingest run is in progress" in loser[2], loser[2]
    assert "Traceback" not in loser[2]
    assert consistency_problems(env["NETDOCS_DATABASE_URL"]) == []
    assert fingerprint(env) == expected

    again = run_cli(env, "ingest", str(docs), "--json")  # the lock was released
    assert again.code == 0 and again.json()["unchanged"] == reference.json()["new"]
    assert fingerprint(env) == expected
