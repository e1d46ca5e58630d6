"""``make bench``: netdocs vs LlamaIndex side by side, and netdocs at scale; one table, one
JSON file (benchmarks/results/<date>[-label].json).

    python benchmarks/bench_all.py                 # whole shared corpus, 5k and 20k scales
    python benchmarks/bench_all.py --quick         # examples/sample-docs, no scale (smoke)
    python benchmarks/bench_all.py --corpus DIR --scales 2000 --no-peer --backends openvino

Everything runs in a temporary folder: one NETDOCS_HOME (one embedded PostgreSQL server and
one model cache for both tools), a temporary ``prefect server`` for the CLI runs. See
docs/benchmarks.md for what each figure means and what limits it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_scale, bench_side  # noqa: E402
from benchmarks.harness import DEFAULT_CORPUS, load, machine, sample_corpus  # noqa: E402
from benchmarks.report import scale_table, side_table  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=None, help="default: the shared corpus")
    p.add_argument("--policy", type=Path, default=None, help="default: CORPUS/tags.yaml")
    p.add_argument("--quick", action="store_true", help="examples/sample-docs, no scale runs")
    p.add_argument(
        "--sample", type=float, default=0.0, help="side by side on this seeded share of the corpus"
    )
    p.add_argument(
        "--scale-embedder",
        default="local",
        choices=("local", "hashing"),
        help="hashing: scale runs without the model (its time excluded, stated in the output)",
    )
    p.add_argument("--backends", default="openvino,onnxruntime", help="netdocs runtimes")
    p.add_argument("--peer-backend", default="openvino", help="runtime of the peer's model")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--parallel", action="store_true", help="netdocs and the peer at the same time")
    p.add_argument("--no-side", action="store_true", help="scale runs only")
    p.add_argument("--scales", default=None, help="corpus sizes, e.g. 5000,20000")
    p.add_argument("--label", default="", help="suffix of the results file name")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    corpus = args.corpus or (REPO / "examples" / "sample-docs" if args.quick else DEFAULT_CORPUS)
    policy: Path | None = args.policy or (
        REPO / "examples" / "tags.yaml" if args.quick and not args.corpus else corpus / "tags.yaml"
    )
    policy = policy if policy and policy.exists() else None
    scales = args.scales if args.scales is not None else ("" if args.quick else "5000,20000")
    sizes = [int(s) for s in scales.split(",") if s]
    backends = [b for b in args.backends.split(",") if b]
    work = Path(tempfile.mkdtemp(prefix="netdocs-bench-"))
    home = work / "home"
    os.environ["NETDOCS_HOME"] = str(home)
    for var in ("NETDOCS_DATABASE_URL", "NETDOCS_EMBEDDING_PROVIDER", "NETDOCS_LOCAL_BACKEND"):
        os.environ.pop(var, None)
    label = args.label or ("quick" if args.quick else "")
    name = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d") + (f"-{label}" if label else "")
    results: dict[str, Any] = {
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "args": vars(args) | {"corpus": str(corpus), "policy": str(policy)},
    }
    from netdocs.config import get_settings
    from netdocs.db import database_url, stop_embedded
    from netdocs.devserver import local_server
    from netdocs.embedding.backend import choose_backend

    results["auto_backend"] = choose_backend("auto", "fp32").__dict__
    stack = contextlib.ExitStack()
    started = time.perf_counter()
    try:
        server_url = database_url(get_settings())
        api = stack.enter_context(local_server(work / "prefect"))
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(work / "prefect-c")}
        side_corpus = corpus
        if args.sample and not args.no_side:
            side_corpus = work / "corpus-sample"
            n = sample_corpus(corpus, side_corpus, args.sample)
            results["sample"] = {"share": args.sample, "documents": n, "seed": 14}
        if not args.no_side:
            print(f"side by side on {side_corpus} (load {load()})", flush=True)
            peer = None if args.no_peer else args.peer_backend
            results["side"] = {}
            bench_side.run(
                env,
                server_url,
                side_corpus,
                policy,
                work,
                backends,
                peer,
                args.parallel,
                results["side"],
            )
            _save(results, name)
            if backends and "full" in results["side"]["netdocs"].get(backends[0], {}):
                results["side"]["index"] = _index_figures(env, server_url, policy, backends[0])
            _save(results, name)
        if sizes:
            results["scale"] = {}
            bench_scale.run(
                env,
                server_url,
                corpus,
                policy,
                work,
                sizes,
                backends[0] if backends else "auto",
                args.scale_embedder,
                results["scale"],
                lambda: _save(results, name),
            )
    finally:
        results["total_s"] = round(time.perf_counter() - started, 1)
        results["load_avg_at_end"] = load()
        path = _save(results, name)
        stack.close()
        stop_embedded(get_settings())
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    m = results["machine"]
    print(
        f"\n{m['cpu']}, {m['usable_cpus']} CPUs, flags {' '.join(m['cpu_flags'])}; load average "
        f"{m['load_avg_at_start']} at start, {results['load_avg_at_end']} at end"
    )
    if "side" in results:
        print("\n".join(side_table(results["side"])))
    if "scale" in results:
        print("\n".join(scale_table(results["scale"])))
    print(f"results: {path}")
    return 0


def _index_figures(
    env: dict[str, str], server_url: str, policy: Path | None, backend: str
) -> dict[str, Any]:
    """Size on disk and query figures of the side-by-side netdocs index."""
    url = bench_side.db_url(server_url, f"nd_{backend}")
    out: dict[str, Any] = {"size": bench_scale.index_size(url)}
    if policy:
        qenv = {**env, "NETDOCS_DATABASE_URL": url, "NETDOCS_LOCAL_BACKEND": backend}
        qenv["NETDOCS_QUERY_CACHE_TTL"] = "0"
        out["query"] = bench_side._child(qenv, "query", str(policy), script=bench_scale.__file__)
    return out


def _save(results: dict[str, Any], name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
