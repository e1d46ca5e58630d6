"""Shared pieces of the benchmark scripts: the machine, a counted CLI run, corpus edits.

Nothing here is product code: it runs netdocs as a user would (the CLI in a subprocess) and
reads what the run reports, plus what the process itself cost (peak RSS, embed calls).
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.host_probe import around

REPO = Path(__file__).resolve().parents[1]
#: The shared corpus beside the clone (``NETDOCS_BENCH_CORPUS`` overrides it).
DEFAULT_CORPUS = Path(
    os.environ.get("NETDOCS_BENCH_CORPUS") or REPO.parent / "shared" / "corpora" / "network-docs"
)
COUNTED_CLI = Path(__file__).with_name("counted_cli.py")
EDIT_SENTENCE = " This sentence was added by the benchmark."
#: CPU flags worth naming in the record (vector and matrix units the model can use).
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def load() -> list[float]:
    """The 1/5/15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem, 1),
        "cpu_flags": [f for f in FLAGS_OF_INTEREST if f in flags],
        "python": platform.python_version(),
        "load_avg_at_start": load(),
    }


def timed_run(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float, dict[str, Any]]:
    """``python ARGS`` in the repository, output captured: the finished process, its wall
    seconds and the host's speed around it (``host_probe.around``)."""

    def step() -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True
        )
        return proc, time.perf_counter() - started

    (proc, wall), host = around(step)
    return proc, wall, host


def counted_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``netdocs ARGS --json`` in a fresh process that counts its embedding calls.

    Returns the CLI's JSON plus ``wall_s`` (the whole process), ``peak_rss_mb`` (the CLI
    process's own ru_maxrss), ``embed_calls`` / ``embed_texts`` / ``model_s`` (calls into
    the local model, texts sent, seconds inside it), ``load_avg`` after the run and ``host``
    (the host's speed around it, ``host_probe.around``).
    """
    counts = Path(env["NETDOCS_HOME"]) / f"counts-{os.getpid()}-{time.monotonic_ns()}.json"

    out, wall, host = timed_run([str(COUNTED_CLI), str(counts), *args, "--json"], env)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise RuntimeError(f"netdocs {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout)
    result.update(json.loads(counts.read_text()))
    counts.unlink()
    result["wall_s"] = round(wall, 2)
    result["load_avg"] = load()
    result["host"] = host
    return result


NOCHANGE_ROUNDS = 3  # cold no-change runs per step: the median is the figure


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time among ``runs`` (an odd number of the same step), with
    every run's wall and flow seconds under ``rounds``: one slow round (a checkpoint, another
    job on the host) moves the range, not the figure."""
    ordered = sorted(runs, key=lambda r: float(r["wall_s"]))
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = [
        {"wall_s": r["wall_s"], "duration_s": r.get("duration_s"), "cpu_s": r.get("cpu_s")}
        for r in runs
    ]
    return chosen


def sample_corpus(src: Path, dst: Path, share: float, seed: int = 14) -> int:
    """Copy a seeded ``share`` of ``src``'s Markdown files (same relative paths, so the
    policy's globs still apply) and its top-level non-Markdown files; returns the count."""
    files = sorted(src.rglob("*.md"))
    chosen = random.Random(seed).sample(files, max(1, round(share * len(files))))
    for path in chosen:
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for path in src.iterdir():
        if path.is_file() and path.suffix != ".md":
            shutil.copy2(path, dst / path.name)
    return len(chosen)


def editable(root: Path) -> list[Path]:
    """Markdown files large enough to hold a prose paragraph, in a stable order."""
    return sorted(p for p in root.rglob("*.md") if p.stat().st_size > 2000)


def edit_files(root: Path, share: float, seed: int) -> list[str]:
    """Append one sentence to one prose paragraph in ``share`` of the files (at least one)."""
    rng = random.Random(seed)
    files = editable(root)
    n = max(1, round(share * sum(1 for _ in root.rglob("*.md"))))
    edited: list[str] = []
    for path in rng.sample(files, min(n, len(files))):
        text = path.read_text(encoding="utf-8")
        paras = [
            p
            for p in text.split("\n\n")
            if len(p.split()) > 20 and not p.lstrip().startswith(("#", "`", "|", "-", "*", ">"))
        ]
        if not paras:
            continue
        para = rng.choice(paras)
        path.write_text(text.replace(para, para + EDIT_SENTENCE, 1), encoding="utf-8")
        edited.append(path.relative_to(root).as_posix())
    return edited


def delete_files(root: Path, n: int, seed: int) -> list[str]:
    """Delete ``n`` Markdown files chosen by ``seed``."""
    files = sorted(root.rglob("*.md"))
    gone = random.Random(seed).sample(files, n)
    for path in gone:
        path.unlink()
    return [p.relative_to(root).as_posix() for p in gone]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max (nearest rank) of milliseconds."""
    xs = sorted(samples_ms)

    def rank(p: float) -> float:
        return xs[min(len(xs) - 1, max(0, round(p * len(xs)) - 1))]

    return {
        "p50": round(rank(0.50), 2),
        "p95": round(rank(0.95), 2),
        "p99": round(rank(0.99), 2),
        "max": round(xs[-1], 2),
        "n": len(xs),
    }
