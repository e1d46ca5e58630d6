"""Dask scale-out benchmark: one folder of the shared corpus ingested on the thread runner,
on 1 Dask worker and on 2 Dask workers (a script that prints figures, not a test).

Each configuration ingests into a fresh database (cold embedding cache) of one embedded
PostgreSQL, through the CLI (a cold process each, as an operator would run it), against one
`prefect server`. The Dask runs start their own local cluster of single-threaded worker
processes (NETDOCS_DASK_WORKERS); its start-up is part of the figure. The three indexes
must be identical (same fingerprint). Load averages are printed with each run: this is a
shared machine, and wall times move with it.

Usage: python benchmarks/bench_dask.py [FOLDER] [--rounds N]
(default FOLDER: the shared corpus's routing/frr, 108 files; default 1 round)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's netdocs (the CLI runs it too)

from netdocs.devserver import local_server  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "network-docs"
DEFAULT_FOLDER = CORPUS / "routing" / "frr"
CONFIGS: list[tuple[str, dict[str, str]]] = [
    ("thread runner", {"NETDOCS_TASK_RUNNER": "thread"}),
    ("dask, 1 worker", {"NETDOCS_TASK_RUNNER": "dask", "NETDOCS_DASK_WORKERS": "1"}),
    ("dask, 2 workers", {"NETDOCS_TASK_RUNNER": "dask", "NETDOCS_DASK_WORKERS": "2"}),
]


def fresh_database(server_url: str) -> str:
    """A new, empty database on the embedded server; its URL."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})


def index_fingerprint(url: str) -> str:
    from netdocs.db import connection
    from netdocs.store.status import fingerprint

    with connection(url) as conn:
        return fingerprint(conn)


def ingest(env: dict[str, str], docs: Path, policy: Path | None) -> tuple[dict[str, Any], float]:
    args = [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"]
    if policy is not None:
        args += ["--policy", str(policy)]
    started = time.perf_counter()
    out = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout), wall


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    if "--rounds" in sys.argv:
        args = [a for a in args if a != str(rounds)]
    folder = Path(args[0]) if args else DEFAULT_FOLDER
    # the corpus's policy: the nearest tags.yaml at or above the folder
    found = [p / "tags.yaml" for p in (folder, *folder.parents) if (p / "tags.yaml").is_file()]
    policy = found[0] if found else None
    work = Path(tempfile.mkdtemp(prefix="netdocs-bench-dask-"))
    docs = work / "docs" / folder.name
    shutil.copytree(folder, docs)
    os.environ["NETDOCS_HOME"] = str(work / "home")
    os.environ.pop("NETDOCS_DATABASE_URL", None)
    stack = contextlib.ExitStack()
    api = stack.enter_context(local_server(work / "prefect"))
    base = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(work / "prefect-client")}
    try:
        from netdocs.config import get_settings
        from netdocs.db import database_url

        server_url = database_url(get_settings())
        files = sum(1 for p in docs.rglob("*") if p.is_file())
        print(f"folder: {folder} ({files} files); {os.cpu_count()} CPUs")
        walls: dict[str, list[float]] = {}
        prints: set[str] = set()

        def one(r: int, name: str, extra: dict[str, str]) -> None:
            url = fresh_database(server_url)
            env = {**base, **extra, "NETDOCS_DATABASE_URL": url}
            load = os.getloadavg()[0]
            result, wall = ingest(env, docs, policy)
            prints.add(index_fingerprint(url))
            walls.setdefault(name, []).append(wall)
            print(
                f"round {r + 1} {name:>28}: {wall:6.1f} s wall (CLI), flow "
                f"{result['duration_s']:6.1f} s, {result['chunks_embedded']} chunks embedded, "
                f"{len(result['failed'])} failed; load average {load:.1f} -> "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )

        for r in range(rounds):
            for name, extra in CONFIGS:
                one(r, name, extra)
        # An existing scheduler with 2 workers that outlive the runs (how several machines
        # would share one): the first run pays the workers' imports and model load, the
        # second finds them warm.
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            extra = {
                "NETDOCS_TASK_RUNNER": "dask",
                "NETDOCS_DASK_ADDRESS": cluster.scheduler_address,
            }
            one(0, "scheduler, 2 workers, cold", extra)
            one(0, "scheduler, 2 workers, warm", extra)
        best = {k: min(v) for k, v in walls.items()}
        t, d1, d2 = (best[name] for name, _ in CONFIGS)
        print(
            f"best wall: thread {t:.1f} s, dask-1 {d1:.1f} s, dask-2 {d2:.1f} s; "
            f"speed-up 2 vs 1 workers {d1 / d2:.2f}x; dask-2 vs thread {t / d2:.2f}x; "
            f"dask-1 overhead vs thread {d1 - t:+.1f} s ({(d1 - t) / t:+.0%})"
        )
        warm = best["scheduler, 2 workers, warm"]
        print(f"existing scheduler, warm workers: {warm:.1f} s, {warm - t:+.1f} s vs thread")
        print(f"identical indexes: {'yes' if len(prints) == 1 else 'NO: ' + str(prints)}")
    finally:
        stack.close()
        from netdocs.config import get_settings
        from netdocs.db import stop_embedded

        stop_embedded(get_settings())
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
