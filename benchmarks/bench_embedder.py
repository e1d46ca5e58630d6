"""Benchmark the local ONNX embedder variants on real corpus chunks (prints figures).

    .venv/bin/python benchmarks/bench_embedder.py [--chunks 500] [--rounds 3] [--variants ...]

Every measurement runs in a fresh subprocess, so times and peak RSS are its own:

* build: the ``.onnx`` file built from the safetensors weights into an empty cache dir;
* run: construct + load from the warm cache (first-load time), one warm-up call, then
  chunks/s at batch sizes 4/8/16/32 (tokenisation included), CPU seconds per 100 chunks at
  the variant's default batch size (steadier than chunks/s on a busy host), the median
  latency of one question with the query-side configuration, and the vectors.

Run children are repeated ``--rounds`` times, variants interleaved, and the best rate is
kept: the host is shared, so the best round is the least disturbed one.

Variants: ``fp32`` (plain graph), ``fp32-fused`` (onnxruntime BERT fusions; the default),
``int8`` (per-channel, FFN down-projections kept fp32; ``precision="int8"``) and
``int8-all`` (every MatMul per-channel int8; for comparison, not offered by the embedder),
``ov-bf16`` / ``ov-f32`` (OpenVINO on the plain fp32 graph, inference precision bf16 / f32;
``--streams`` sets its stream count for the throughput runs).
"""

from __future__ import annotations

import argparse
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(
    os.environ.get("NETDOCS_BENCH_CORPUS", REPO.parent / "shared" / "corpora" / "network-docs")
)
VARIANTS = ("fp32", "fp32-fused", "int8", "int8-all", "ov-bf16", "ov-f32")
DEFAULT_VARIANTS = ("fp32-fused", "int8", "ov-bf16", "ov-f32")
BATCH_SIZES = (4, 8, 16, 32)
QUESTIONS = (
    "How do I configure a BGP neighbor and its remote AS?",
    "renew dhcp lease",
    "What does the kea lease query hook return for an unknown client?",
)


def corpus_chunks(n: int, lo: int = 150, hi: int = 200) -> list[str]:
    """``n`` pieces of real documentation of lo..hi word pieces (embedder's tokenizer)."""
    from netdocs.embedding.local import LocalEmbedder

    count = LocalEmbedder(cache_dir=Path(tempfile.gettempdir())).count_tokens
    files = sorted(CORPUS.rglob("*.md"))
    random.Random(0).shuffle(files)
    chunks: list[str] = []
    for path in files:
        words = path.read_text(encoding="utf-8", errors="replace").split()
        for start in range(0, len(words) - 150, 150 * 4):  # at most a few per file
            piece = words[start : start + 150]
            tokens = count([" ".join(piece)])[0]
            while tokens > hi and len(piece) > 20:
                piece = piece[: int(len(piece) * (hi - 10) / tokens)]
                tokens = count([" ".join(piece)])[0]
            if lo <= tokens <= hi:
                chunks.append(" ".join(piece))
            if len(chunks) == n:
                return chunks
    return chunks


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(variant: str, cache: Path) -> dict[str, Any]:
    """Build one variant's file into ``cache``."""
    from netdocs.embedding import onnx_bert, onnx_cache
    from netdocs.embedding.onnx_cache import Precision

    t0 = time.perf_counter()
    if variant == "int8-all":  # plant the all-int8 file where the int8 variant is looked up
        folder = onnx_cache.model_dir()
        cache.mkdir(parents=True, exist_ok=True)
        cfg = onnx_bert.BertConfig.from_json(folder / "config.json")
        model = onnx_bert.build_model(folder / "model.safetensors", folder / "config.json")
        model = onnx_cache.fuse(model, cfg.num_heads, cfg.hidden_size)
        onnx_cache.quantize_int8(model, onnx_cache.variant_path(cache, folder, "int8", True))
    elif variant.startswith("ov-"):  # the plain graph, then the first (uncached) compile
        _embedder(variant, cache, workers=0, streams=1).load()
    else:
        precision: Precision = "int8" if variant == "int8" else "fp32"
        onnx_cache.ensure_variant(cache, precision, fused=variant != "fp32")
    return {"build_s": time.perf_counter() - t0, "rss_mb": _rss_mb()}


def _embedder(variant: str, cache: Path, workers: int, streams: int, query: bool = False) -> Any:
    """The embedder of a variant; ``query``: as the factory builds it for questions."""
    from netdocs.embedding.local import LocalEmbedder
    from netdocs.embedding.openvino_backend import OpenVINOEmbedder

    if variant.startswith("ov-"):
        precision = "bf16" if variant == "ov-bf16" else "f32"
        return OpenVINOEmbedder(
            precision=precision,
            cache_dir=cache,
            streams=1 if query else streams,
            batch_size=1 if query else 32,
        )
    return LocalEmbedder(
        precision="int8" if variant.startswith("int8") else "fp32",
        cache_dir=cache,
        fused=variant != "fp32",
        workers=1 if query else workers,
    )


def child_run(
    variant: str, cache: Path, chunks_file: Path, out: Path, workers: int, streams: int
) -> dict[str, Any]:
    """Load one variant from the warm cache and time it; saves the vectors to ``out``."""
    chunks = json.loads(chunks_file.read_text())
    t0 = time.perf_counter()
    emb = _embedder(variant, cache, workers, streams)
    emb.load()
    load_s = time.perf_counter() - t0
    default_bs = emb.batch_size
    emb.embed(chunks[:32])  # warm-up
    rates: dict[int, float] = {}
    for bs in BATCH_SIZES:
        emb.batch_size = bs
        t0 = time.perf_counter()
        vectors = emb.embed(chunks)
        rates[bs] = len(chunks) / (time.perf_counter() - t0)
    emb.batch_size = default_bs
    cpu0 = time.process_time()
    emb.embed(chunks)
    cpu_per_100 = (time.process_time() - cpu0) * 100 / len(chunks)
    np.save(out, vectors)
    query = _embedder(variant, cache, workers, streams, query=True)
    query.embed(list(QUESTIONS))  # load + warm-up
    latencies = []
    for _ in range(10):
        for q in QUESTIONS:
            t0 = time.perf_counter()
            query.embed([q])
            latencies.append(time.perf_counter() - t0)
    return {
        "load_s": load_s,
        "rates": rates,
        "cpu_per_100": cpu_per_100,
        "query_ms": float(np.median(latencies)) * 1000,
        "rss_mb": _rss_mb(),
    }


def _spawn(*args: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's netdocs, not an installed one
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="single-threaded model runs at once (0: one per CPU; 1: one run on all cores)",
    )
    parser.add_argument("--streams", type=int, default=1, help="OpenVINO streams (throughput)")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=",".join(VARIANTS))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, variant, cache, *rest = args.child
        if kind == "build":
            print(json.dumps(child_build(variant, Path(cache))))
        else:
            chunks_file, out = map(Path, rest)
            run = child_run(variant, Path(cache), chunks_file, out, args.workers, args.streams)
            print(json.dumps(run))
        return

    work = Path(tempfile.mkdtemp(prefix="bench-embedder-"))
    try:
        report(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, work: Path) -> None:
    """Run the children and print the table."""
    from netdocs.embedding.local import LocalEmbedder

    chunks = corpus_chunks(args.chunks)
    chunks_file = work / "chunks.json"
    chunks_file.write_text(json.dumps(chunks))
    lengths = LocalEmbedder(cache_dir=work).count_tokens(chunks)
    print(
        f"{len(chunks)} chunks from {CORPUS}: word pieces min/median/max = "
        f"{min(lengths)}/{int(np.median(lengths))}/{max(lengths)}; "
        f"workers={args.workers or 'one per CPU'}; best of {args.rounds} rounds"
    )
    variants = args.variants.split(",")
    build = {v: _spawn("--child", "build", v, str(work / v)) for v in variants}
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for v in variants:
            out = work / f"{v}.npy"
            child = ["--child", "run", v, str(work / v), str(chunks_file), str(out)]
            runs[v].append(
                _spawn(*child, "--workers", str(args.workers), "--streams", str(args.streams))
            )
    vectors = {v: np.load(work / f"{v}.npy") for v in variants}

    rate_cols = "  ".join(f"bs{b:<2} ch/s" for b in BATCH_SIZES)
    print(
        f"{'variant':<11} build s  build RSS  load s  {rate_cols}  CPU s/100  query ms  "
        "run RSS  cos vs fp32 min/mean"
    )
    ref = vectors.get("fp32", vectors.get("fp32-fused"))
    for v in variants:
        best = {b: max(r["rates"][str(b)] for r in runs[v]) for b in BATCH_SIZES}
        load_s = min(r["load_s"] for r in runs[v])
        rss = max(r["rss_mb"] for r in runs[v])
        cos = ""
        if ref is not None:
            sims = (vectors[v] * ref).sum(axis=1)
            cos = f"{sims.min():.5f}/{sims.mean():.5f}"
        rates = "  ".join(f"{best[b]:9.1f}" for b in BATCH_SIZES)
        cpu = min(r["cpu_per_100"] for r in runs[v])
        query_ms = min(r["query_ms"] for r in runs[v])
        print(
            f"{v:<11} {build[v]['build_s']:7.1f}  {build[v]['rss_mb']:6.0f} MB  {load_s:6.2f}  "
            f"{rates}  {cpu:9.2f}  {query_ms:8.1f}  {rss:4.0f} MB  {cos}"
        )


if __name__ == "__main__":
    main()
