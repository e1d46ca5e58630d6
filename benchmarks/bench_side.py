"""netdocs and LlamaIndex's IngestionPipeline side by side (part of ``make bench``).

Same corpus copy, same embedded PostgreSQL server (one database each), same model file
(one ``NETDOCS_HOME/models``), same runtime. Steps: full ingest, no-change re-run (cold
process; and netdocs' flow run again inside a warm process), 1 % of the files edited by one
sentence, 5 files deleted. netdocs runs as its CLI would; the peer as a script per step.
Embedding calls are counted on both sides. Also: the raw model time for netdocs' chunks
(the floor) and netdocs' time outside the model.

``python benchmarks/bench_side.py --child raw|inprocess [DOCS POLICY]`` are the child
processes used by :func:`run` (not for direct use).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import (  # noqa: E402
    NOCHANGE_ROUNDS,
    counted_cli,
    delete_files,
    edit_files,
    load,
    median_run,
    timed_run,
)

EDIT_SEED, DELETE_SEED = 14, 15
PEER = Path(__file__).with_name("peer_llamaindex.py")


def _child(env: dict[str, str], *args: str, script: str = __file__) -> dict[str, Any]:
    """Run ``script --child ARGS`` and return the JSON of its last line."""
    out, _, host = timed_run([script, "--child", *args], env)
    if out.returncode:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg"] = load()
    result["host"] = host
    return result


def chunk_ids(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT chunk_id FROM chunks")}


def netdocs_steps(
    env: dict[str, str], docs: Path, policy: list[str], full_only: bool, out: dict[str, Any]
) -> dict[str, Any]:
    """Run netdocs' steps on ``docs`` (a private copy, edited in place), into ``out``."""
    url = env["NETDOCS_DATABASE_URL"]
    out["full"] = counted_cli(env, "ingest", str(docs), *policy)
    if not full_only:
        cold = [counted_cli(env, "ingest", str(docs), *policy) for _ in range(NOCHANGE_ROUNDS)]
        out["nochange_cold"] = median_run(cold)
        out["nochange_inprocess"] = _child(env, "inprocess", str(docs), *policy[1:])
    out["raw_floor"] = _child(env, "raw")
    if full_only:
        return out
    before = chunk_ids(url)
    edited = edit_files(docs, 0.01, EDIT_SEED)
    out["edit"] = counted_cli(env, "ingest", str(docs), *policy)
    out["edit"]["files_edited"] = len(edited)
    out["edit"]["chunks_with_new_text"] = len(chunk_ids(url) - before)
    gone = delete_files(docs, 5, DELETE_SEED)
    out["delete"] = counted_cli(env, "ingest", str(docs), *policy)
    out["delete"]["files_deleted"] = len(gone)
    return out


def _peer(env: dict[str, str], docs: Path, state: Path, url: str, *extra: str) -> dict:
    proc, wall, host = timed_run([str(PEER), str(docs), str(state), url, *extra], env)
    if proc.returncode:
        raise RuntimeError(f"LlamaIndex peer failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 2)
    result["load_avg"] = load()
    result["host"] = host
    return result


def peer_steps(
    env: dict[str, str], docs: Path, state: Path, url: str, out: dict[str, Any]
) -> dict[str, Any]:
    """The same steps for LlamaIndex's pipeline on its own copy of the corpus, into ``out``."""
    out["full"] = _peer(env, docs, state, url)
    cold = [_peer(env, docs, state, url, "--again") for _ in range(NOCHANGE_ROUNDS)]
    out["nochange_cold"] = median_run(cold)
    out["nochange_inprocess"] = out["nochange_cold"].pop("again")
    edited = edit_files(docs, 0.01, EDIT_SEED)
    out["edit"] = _peer(env, docs, state, url)
    out["edit"]["files_edited"] = len(edited)
    gone = delete_files(docs, 5, DELETE_SEED)
    out["delete"] = _peer(env, docs, state, url)
    out["delete"]["files_deleted"] = len(gone)
    return out


def db_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = {k: v for k, v in conninfo_to_dict(server_url).items() if v is not None}
    return make_conninfo(**{**info, "dbname": name})


def create_database(server_url: str, name: str) -> str:
    """A fresh database ``name`` on the server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return db_url(server_url, name)


def run(
    base_env: dict[str, str],
    server_url: str,
    corpus: Path,
    policy_file: Path | None,
    work: Path,
    backends: list[str],
    peer_backend: str | None,
    parallel: bool = False,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """netdocs on every backend (all steps on the first, full ingest on the others) and
    the peer on ``peer_backend`` (None: no peer): one after the other, or with
    ``parallel`` netdocs' first backend and the peer at the same time (equal contention
    on a busy host), then the other backends."""
    policy = ["--policy", str(policy_file)] if policy_file else []
    result = result if result is not None else {}  # filled as steps end (partial on error)
    result.update({"corpus": str(corpus), "netdocs": {}, "parallel": parallel})

    def netdocs(i: int, backend: str) -> None:
        docs = work / f"docs-{backend}"
        shutil.copytree(corpus, docs)
        url = create_database(server_url, f"nd_{backend}")
        env = {**base_env, "NETDOCS_DATABASE_URL": url, "NETDOCS_LOCAL_BACKEND": backend}
        print(f"  netdocs on {backend} ... (load {load()})", flush=True)
        netdocs_steps(env, docs, policy, i > 0, result["netdocs"].setdefault(backend, {}))

    def peer() -> None:
        assert peer_backend
        docs = work / "docs-peer"
        shutil.copytree(corpus, docs)
        url = create_database(server_url, "peer")
        env = {**base_env, "NETDOCS_LOCAL_BACKEND": peer_backend}
        print(f"  LlamaIndex IngestionPipeline on {peer_backend} ... (load {load()})", flush=True)
        result["peer"] = {"backend": peer_backend}
        peer_steps(env, docs, work / "peer", url, result["peer"])

    def guarded(job: Callable[[], None], name: str) -> Callable[[], None]:
        def run_job() -> None:
            try:
                job()
            except Exception as e:  # one tool failing must not lose the other's figures
                result.setdefault("errors", {})[name] = str(e)[-2000:]
                print(f"  {name} failed: {str(e)[-500:]}", flush=True)

        return run_job

    jobs = [guarded(partial(netdocs, i, b), b) for i, b in enumerate(backends)]
    if peer_backend:
        jobs.insert(1, guarded(peer, "peer"))
    if parallel and len(jobs) > 1:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(jobs[0]), pool.submit(jobs[1])]:
                future.result()
        jobs = jobs[2:]
    for job in jobs:
        job()
    return result


# -- child processes ------------------------------------------------------------------


def child_raw() -> dict[str, Any]:
    """Embed netdocs' stored chunk texts (distinct) once more, in one call: the floor.

    ``NETDOCS_BENCH_FLOOR_SAMPLE`` (default 3000; 0 = all): embed a seeded random sample of
    that many texts and extrapolate to all of them by their share of the word pieces."""
    import random

    import psycopg

    from netdocs.chunking import embed_text
    from netdocs.config import get_settings
    from netdocs.embedding.factory import get_embedder

    with psycopg.connect(os.environ["NETDOCS_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT heading_path, text FROM chunks").fetchall()
    texts = sorted({embed_text(tuple(hp), t) for hp, t in rows})
    embedder = get_embedder(get_settings(), "bulk")
    sample_n = int(os.environ.get("NETDOCS_BENCH_FLOOR_SAMPLE", "3000"))
    sample = texts
    if 0 < sample_n < len(texts):
        sample = random.Random(0).sample(texts, sample_n)
    tokens_all = sum(min(n, embedder.max_tokens) for n in embedder.count_tokens(texts))
    tokens_sample = sum(min(n, embedder.max_tokens) for n in embedder.count_tokens(sample))
    embedder.embed(texts[:8])  # load the model outside the timing
    cpu0, started = time.process_time(), time.perf_counter()
    embedder.embed(sample)
    measured = time.perf_counter() - started
    scale = tokens_all / tokens_sample
    return {
        "chunks": len(rows),
        "distinct_texts": len(texts),
        "sample_texts": len(sample),
        "sample_s": round(measured, 2),
        "raw_s": round(measured * scale, 2),  # extrapolated when sampled
        "extrapolated": len(sample) < len(texts),
        "cpu_s": round((time.process_time() - cpu0) * scale, 2),
        "chunks_per_s": round(len(sample) / measured, 1),
        "embedder": repr(embedder),
    }


def child_inprocess(docs: str, policy: str | None) -> dict[str, Any]:
    """The ingest flow twice in this process; the second (warm) no-change run is timed."""
    from flows.ingest import ingest

    ingest(docs, policy)
    started = time.perf_counter()
    summary = ingest(docs, policy)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "duration_s": round(float(summary["duration_s"]), 2),
        "chunks_embedded": summary["chunks_embedded"],
        "unchanged": summary["unchanged"],
    }


if __name__ == "__main__":
    kind, *rest = sys.argv[2:]
    if kind == "raw":
        print(json.dumps(child_raw()))
    else:
        print(json.dumps(child_inprocess(rest[0], rest[1] if len(rest) > 1 else None)))
