"""SIGKILL an ingest at random moments, on a first ingest and on an *update* of an indexed
folder (documents edited, deleted and added): after every kill each document holds exactly
its old version's chunks or exactly its new version's (computed here from the two texts),
and re-running converges to a clean ingest's index."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ..conftest import REPO, copy_corpus
from .conftest import run_cli

ITERATIONS = int(os.environ.get("NETDOCS_CRASH_ITERATIONS", "4"))
SEED = int(os.environ.get("NETDOCS_CRASH_SEED", "20261127"))

# One version of one document as the index must hold it: its chunk ids and content hash.
Version = tuple[frozenset[str], str | None]
ABSENT: Version = (frozenset(), None)


def consistency_problems(url: str) -> list[str]:
    """Documents whose recorded chunk count differs from their stored chunks."""
    with psycopg.connect(url) as conn:
        bad_counts = conn.execute(
            "SELECT d.doc_id FROM documents d LEFT JOIN chunks c USING (doc_id)"
            " GROUP BY d.doc_id, d.chunk_count HAVING count(c.chunk_id) <> d.chunk_count"
        ).fetchall()
    return [f"chunk count mismatch: {r[0]}" for r in bad_counts]


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


def run_count(url: str) -> int:
    """How many runs the index has recorded (0 before its schema exists)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM runs").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return int(row[0]) if row else 0


def wait_for_run_start(
    url: str, proc: subprocess.Popen[Any], timeout: float = 60, runs_before: int = 0
) -> bool:
    """Poll until a run newer than the ``runs_before`` recorded ones appears in the database
    (its working phase begins); False if the process ended or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if run_count(url) > runs_before:
            return True
        time.sleep(0.01)
    return False


def expected_versions(docs: Path) -> dict[str, Version]:
    """Each file's chunk ids and sha256, computed from its text by the chunk-id definition
    (netdocs.chunking) with the embedder the CLI uses in tests (hashing) and default limits."""
    from netdocs.chunking import chunk_document
    from netdocs.config import Settings
    from netdocs.embedding.hashing import HashingEmbedder

    emb = HashingEmbedder()
    limit = min(Settings().chunk_max_tokens, emb.max_tokens)
    out: dict[str, Version] = {}
    for path in sorted(docs.rglob("*.md")):
        doc_id = path.relative_to(docs).as_posix()
        data = path.read_bytes()
        chunks = chunk_document(doc_id, data.decode(), emb.count_tokens, limit)
        out[doc_id] = (frozenset(c.chunk_id for c in chunks), hashlib.sha256(data).hexdigest())
    return out


def stored_versions(url: str) -> dict[str, Version]:
    """What the index holds per document: chunk ids and the recorded content hash."""
    with psycopg.connect(url) as conn:
        chunks = conn.execute("SELECT doc_id, chunk_id FROM chunks").fetchall()
        docs = dict(conn.execute("SELECT doc_id, content_hash FROM documents").fetchall())
    ids: dict[str, set[str]] = {}
    for doc_id, chunk_id in chunks:
        ids.setdefault(doc_id, set()).add(chunk_id)
    return {d: (frozenset(ids.get(d, ())), docs.get(d)) for d in set(ids) | set(docs)}


def mixed_versions(
    stored: dict[str, Version], old: dict[str, Version], new: dict[str, Version]
) -> tuple[list[str], int]:
    """Documents that hold neither exactly the old nor exactly the new version, and how
    many documents whose version changes already hold the new one."""
    bad, moved = [], 0
    for doc_id in sorted(set(stored) | set(old) | set(new)):
        got = stored.get(doc_id, ABSENT)
        before, after = old.get(doc_id, ABSENT), new.get(doc_id, ABSENT)
        if got not in (before, after):
            bad.append(doc_id)
        elif before != after and got == after:
            moved += 1
    return bad, moved


def mutate(docs: Path, rng: random.Random) -> dict[str, str]:
    """Edit about a third of the files (a paragraph inserted mid-document, or appended),
    delete a sixth, add three; return what happened to each touched document."""
    files = sorted(docs.rglob("*.md"))
    rng.shuffle(files)
    edits, deletes = len(files) // 3, len(files) // 6
    what: dict[str, str] = {}
    for path in files[:edits]:
        blocks = path.read_text().split("\n\n")
        at = rng.randrange(1, len(blocks) + 1)
        words = " ".join(rng.choice(["peer", "route", "lease", "zone", "timer"]) for _ in range(9))
        blocks.insert(at, f"Edited note {rng.randrange(10**6)}: {words}.")
        path.write_text("\n\n".join(blocks))
        what[path.relative_to(docs).as_posix()] = "edited"
    for path in files[edits : edits + deletes]:
        path.unlink()
        what[path.relative_to(docs).as_posix()] = "deleted"
    for k in range(3):
        path = docs / "runbooks" / f"added-{k}.md"
        path.parent.mkdir(exist_ok=True)
        body = "\n\n".join(
            f"## Step {s}\n\nRun check {rng.randrange(10**6)} on the edge." for s in range(4)
        )
        path.write_text(f"# Added runbook {k}\n\n{body}\n")
        what[path.relative_to(docs).as_posix()] = "added"
    return what


def commits_of_latest_run(url: str) -> int:
    """Documents committed by the most recently started run."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM documents WHERE run_id ="
            " (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1)"
        ).fetchone()
    return int(row[0]) if row else 0


def kill_during_run(
    env: dict[str, str], docs: Path, rng: random.Random, work_s: float, after_commits: int
) -> bool:
    """Start a CLI ingest and SIGKILL its process group at a random moment of its run, or
    (``after_commits`` > 0) just after that many document commits of the run; True when
    the kill landed while the run was working."""
    url = env["NETDOCS_DATABASE_URL"]
    before = run_count(url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = wait_for_run_start(url, proc, runs_before=before)
    if started and after_commits:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if commits_of_latest_run(url) >= after_commits:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
    else:
        time.sleep(rng.uniform(0, work_s) if started else rng.uniform(0, 1))
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return started and alive


@pytest.mark.slow
def test_sigkill_during_first_ingest_and_update_leaves_old_or_new_per_document(
    tmp_path: Path, cli_env: dict[str, str], make_db: Callable[..., str]
) -> None:
    docs = copy_corpus(tmp_path / "docs", "routing/bird", "routing/frr", "dns/bind9", "ipv6/radvd")
    rng = random.Random(SEED)
    env = {**cli_env, "NETDOCS_DOCS_PER_COMMIT_BATCH": "2"}  # many commits per run

    v1 = expected_versions(docs)
    old_env = {**env, "NETDOCS_DATABASE_URL": make_db()}
    first = ingest_until_done(old_env, docs)
    assert not first["failed"]
    assert stored_versions(old_env["NETDOCS_DATABASE_URL"]) == v1  # the oracle fits the CLI

    what = mutate(docs, rng)
    v2 = expected_versions(docs)
    changed = [d for d, how in what.items() if how == "edited"]
    assert changed and all(v1[d][0] != v2[d][0] for d in changed)  # edits change chunk ids
    reference_env = {**env, "NETDOCS_DATABASE_URL": make_db()}
    reference = ingest_until_done(reference_env, docs)
    assert stored_versions(reference_env["NETDOCS_DATABASE_URL"]) == v2
    expected = fingerprint(reference_env)
    first_s = float(first["duration_s"])  # type: ignore[arg-type]
    update_s = max(first_s / 2, float(reference["duration_s"]) / 2)  # type: ignore[arg-type]

    kills, partial = 0, 0
    for i in range(ITERATIONS):
        fresh = i % 3 == 0  # every third iteration kills a first ingest, the rest an update
        url = make_db() if fresh else make_db(old_env["NETDOCS_DATABASE_URL"])
        it_env = {**env, "NETDOCS_DATABASE_URL": url}
        old = {} if fresh else v1
        for k in range(1 + i % 2):  # every other iteration is killed twice in a row
            work_s = first_s if fresh else update_s
            changing = sum(old.get(d) != v2.get(d) for d in set(old) | set(v2))
            committing = sum(old.get(d) != v for d, v in v2.items())  # new or edited
            after = rng.randint(1, max(1, committing - 1)) if k == 0 else 0
            kills += kill_during_run(it_env, docs, rng, work_s, after_commits=after)
            bad, moved = mixed_versions(stored_versions(url), old, v2)
            assert bad == [], f"iteration {i} kill {k}: neither old nor new version: {bad}"
            partial += 0 < moved < changing
        final = ingest_until_done(it_env, docs)
        assert not final["failed"]
        assert stored_versions(url) == v2, f"iteration {i}: the re-run did not finish the update"
        assert fingerprint(it_env) == expected, f"iteration {i}: did not converge"
    print(f"kills in a running ingest: {kills}; kills that left a part of the update: {partial}")
    assert kills >= ITERATIONS // 2  # the kills really hit running ingests
    assert partial >= 1  # and at least one landed between two documents' commits
