"""Query benchmark on an ingested index (a script that prints figures, not a test).

Measures in a warm process, over the eval questions (eval/questions.yaml) in several rounds,
interleaved (each question through every measurement in turn):
  1. retrieval latency (embed the question + fused search) p50/p95, unrestricted and with
     role filters (network_engineer, helpdesk), plus the search alone (vector given);
  2. fallback ``ask`` latency (network_engineer retrieval + extractive answer, no LLM);
  3. a cold ``netdocs search --json`` process, wall time (median of several runs).

Usage: python benchmarks/bench_query.py [--rounds 5] [--cold 5] [--policy FILE] [--json]
The index is the configured one (NETDOCS_HOME / NETDOCS_DATABASE_URL); ingest the corpus
first: ``netdocs ingest ../shared/corpora/network-docs --policy .../tags.yaml``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = REPO.parent / "shared" / "corpora" / "network-docs" / "tags.yaml"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 / p95 / max of a list of milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
        "n": len(ordered),
    }


def timed(
    fns: dict[str, Callable[[str], Any]], questions: list[str], rounds: int
) -> dict[str, dict[str, float]]:
    """Latency of each ``fn(question)``, interleaved (question by question, every fn in
    turn) so that load from other processes weighs on all of them alike; one warm-up."""
    for q in questions:
        for fn in fns.values():
            fn(q)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for q in questions:
            for name, fn in fns.items():
                t = time.perf_counter()
                fn(q)
                samples[name].append((time.perf_counter() - t) * 1000.0)
    return {name: percentiles(values) for name, values in samples.items()}


def cold_search(runs: int, policy: Path) -> dict[str, float]:
    """Wall time of a fresh ``netdocs search --json`` process."""
    exe = Path(sys.executable).with_name("netdocs")
    cmd = [
        str(exe),
        "search",
        "how do I add a BGP neighbor",
        "--json",
        "--role",
        "network_engineer",
        "--policy",
        str(policy),
    ]
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=os.environ.copy())
        samples.append((time.perf_counter() - t) * 1000.0)
    return percentiles(samples)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", type=int, default=5, help="cold CLI runs (0 = skip)")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from netdocs.query.answerer import Answerer
    from netdocs.query.service import SearchService

    data = yaml.safe_load((REPO / "eval" / "questions.yaml").read_text(encoding="utf-8"))
    questions = [q["question"] for q in data["questions"]] + list(data.get("unanswerable", []))
    out: dict[str, Any] = {"questions": len(questions), "rounds": args.rounds}
    with SearchService(None) as admin:
        if admin.index_model is None:
            print("the index is empty: ingest the corpus first", file=sys.stderr)
            return 2
        count = admin.conn.execute("SELECT count(*) FROM chunks").fetchone()
        out["chunks"] = count[0] if count else 0
        out["model"] = admin.index_model[0]
        vectors = {q: admin.embed_query(q) for q in questions}
        roles = {
            r: SearchService.for_role(r, args.policy, conn=admin.conn, embedder=admin.embedder)
            for r in ("network_engineer", "helpdesk")
        }
        answerer = Answerer(admin.settings, chat=None)
        k = admin.settings.answer_top_k
        fns: dict[str, Callable[[str], Any]] = {
            "embed_query": admin.embed_query,
            "search_unrestricted": lambda q: admin.search(q, 5, vector=vectors[q]),
            "retrieval_unrestricted": lambda q: admin.search(q, 5),
        }
        for role, svc in roles.items():
            fns[f"search_{role}"] = lambda q, s=svc: s.search(q, 5, vector=vectors[q])
            fns[f"retrieval_{role}"] = lambda q, s=svc: s.search(q, 5)
        fns["fallback_ask"] = lambda q: answerer.answer(q, roles["network_engineer"].search(q, k))
        out.update(timed(fns, questions, args.rounds))
    if args.cold:
        out["cold_cli_search"] = cold_search(args.cold, args.policy)
    if args.json:
        print(json.dumps(out))
        return 0
    load = os.getloadavg()[0]
    print(
        f"{out['chunks']} chunks, {out['model']}; {len(questions)} questions x "
        f"{args.rounds} rounds (after one warm-up round); load average {load:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    for key, value in out.items():
        if isinstance(value, dict):
            print(
                f"  {key:<32} p50 {value['p50']:>8.2f} ms   p95 {value['p95']:>8.2f} ms"
                f"   max {value['max']:>8.2f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
