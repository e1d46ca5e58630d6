"""Ingestion benchmark on the whole shared corpus (a script that prints figures, not a test).

Measures, with the configured embedder (default: the packaged local model):
  1. full ingest (cold CLI process, Prefect server configured) vs the raw embedding time of
     the same chunks with the same model, and the orchestration + database share;
  2. a one-sentence edit of 13 files: chunks embedded vs chunks whose text changed;
  3. a no-change re-run from a cold CLI process.

Usage: python benchmarks/bench_ingest.py [CORPUS] [--skip-raw] [--keep]
(--keep leaves the index in place and prints its NETDOCS_HOME, e.g. for eval/run_eval.py)
Everything runs in a temporary NETDOCS_HOME with its own embedded PostgreSQL and a
temporary `prefect server`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's netdocs (the CLI runs it too), not an installed one

from netdocs.devserver import local_server  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "network-docs"


def cli(env: dict[str, str], *args: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "netdocs.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout), wall


def edit_files(root: Path, n: int, rng: random.Random) -> list[str]:
    """Append one sentence to one paragraph in each of ``n`` random files."""
    files = sorted(p for p in root.rglob("*.md") if p.stat().st_size > 2000)
    edited = []
    for path in rng.sample(files, n):
        text = path.read_text()
        paras = [
            p
            for p in text.split("\n\n")
            if len(p.split()) > 20 and not p.lstrip().startswith(("#", "`", "|", "-", "*"))
        ]
        if not paras:
            continue
        para = rng.choice(paras)
        path.write_text(text.replace(para, para + " This sentence was added by the benchmark.", 1))
        edited.append(path.relative_to(root).as_posix())
    return edited


def chunk_ids(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT chunk_id FROM chunks")}


def raw_embedding_time(url: str) -> tuple[int, float]:
    """Embed every stored chunk text again with a fresh instance of the same model."""
    import psycopg

    from netdocs.chunking import embed_text
    from netdocs.config import get_settings
    from netdocs.embedding.factory import _build

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT heading_path, text FROM chunks").fetchall()
    texts = [embed_text(tuple(hp), t) for hp, t in rows]
    embedder = _build(get_settings(), "bulk")
    embedder.embed(texts[:8])  # load the model outside the timing
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts), time.perf_counter() - started


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    corpus = Path(args[0]) if args else DEFAULT_CORPUS
    work = Path(tempfile.mkdtemp(prefix="netdocs-bench-"))
    docs = work / "docs"
    shutil.copytree(corpus, docs)
    os.environ["NETDOCS_HOME"] = str(work / "home")
    os.environ.pop("NETDOCS_DATABASE_URL", None)
    server = contextlib.ExitStack()
    api = server.enter_context(local_server(work / "prefect"))
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(work / "prefect-client")}
    try:
        from netdocs.config import get_settings
        from netdocs.db import database_url

        url = database_url(get_settings())
        policy = corpus / "tags.yaml"
        pol = ["--policy", str(policy)] if policy.exists() else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        full, wall = cli(env, "ingest", str(docs), *pol, "--json")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        embed_s = float(full["embed_s"])
        validation_s = float(full["validation"].get("validation_s", 0.0))
        from netdocs.embedding.factory import _build

        print(
            f"corpus: {corpus} ({full['scanned']} files); model: {_build(get_settings(), 'bulk')!r}"
        )
        print(
            f"full ingest: {full['chunks_embedded']} chunks embedded, {full['new']} documents, "
            f"{len(full['failed'])} failed"
        )
        print(f"  wall (cold CLI process): {wall:.1f} s; flow duration {full['duration_s']:.1f} s")
        print(
            f"  CPU time of the CLI process: {cpu_s:.1f} s (a busy host stretches wall time, "
            "not this; PostgreSQL and the Prefect server are other processes)"
        )
        print(f"  inside the model: {embed_s:.1f} s; validation (GX): {validation_s:.2f} s")
        print(
            "  time by stage (summed over batches; stages overlap): "
            + ", ".join(f"{k} {v:.1f}" for k, v in full.get("phases", {}).items())
        )
        other = float(full["duration_s"]) - embed_s
        print(
            f"  orchestration + database + chunking: {other:.1f} s "
            f"({other / float(full['duration_s']):.1%} of the flow)"
        )
        if "--skip-raw" not in sys.argv:
            n, raw = raw_embedding_time(url)
            print(
                f"raw embedding of the same {n} chunks, same model, one call: {raw:.1f} s "
                f"({n / raw:.1f} chunks/s); "
                f"full ingest / raw = {float(full['duration_s']) / raw:.2f}"
            )

        before = chunk_ids(url)
        edited = edit_files(docs, 13, random.Random(13))
        result, wall = cli(env, "ingest", str(docs), *pol, "--json")
        after = chunk_ids(url)
        print(
            f"one-sentence edit of {len(edited)} files: {result['changed']} changed documents, "
            f"{len(after - before)} chunks with new text, {result['chunks_embedded']} embedded, "
            f"{result['chunks_reused']} kept; run {wall:.1f} s wall"
        )

        result, wall = cli(env, "ingest", str(docs), *pol, "--json")
        print(
            f"no-change re-run, cold CLI process (Prefect server configured): {wall:.2f} s wall, "
            f"flow {result['duration_s']:.2f} s, {result['chunks_embedded']} embedded"
        )
    finally:
        server.close()
        from netdocs.config import get_settings
        from netdocs.db import stop_embedded

        stop_embedded(get_settings())
        if "--keep" in sys.argv:
            print(f"index kept: NETDOCS_HOME={work / 'home'}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
