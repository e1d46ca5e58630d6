"""Where one search's time goes: p50/p95 per stage and role, and recall of the product's
dense path against an exact scan.

Uses the configured index (NETDOCS_HOME / NETDOCS_DATABASE_URL) and the eval questions;
the policy is the shared corpus's ``tags.yaml`` unless given. Stages are those of
``SearchService.search(timings=...)``: embed_ms, fulltext_ms, dense_ms, fuse_ms, and total;
``cpu`` is the CPU time the search took in this process and its PostgreSQL backend together
(``/proc/PID/schedstat``): on a busy host wall times measure the queue for a core, CPU
time what one search costs (its wall time on an idle core, less waits for I/O).

    python benchmarks/probe_search_stages.py [--policy FILE] [--roles ...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import percentiles  # noqa: E402
from netdocs.query.search import candidates_for, dense_hits  # noqa: E402
from netdocs.query.service import SearchService  # noqa: E402

SETS = ("questions.yaml", "heldout.yaml", "heldout-paraphrase.yaml")
TIE = 1e-6
STAGES = ("embed_ms", "fulltext_ms", "dense_ms", "fuse_ms", "total_ms", "cpu_ms")


def oncpu_ns(pid: int) -> int:
    """Nanoseconds process ``pid`` has run on a CPU (/proc/PID/schedstat; Linux only)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def questions() -> list[str]:
    """The eval questions of every set (answerable ones)."""
    out: list[str] = []
    for name in SETS:
        data = yaml.safe_load((REPO / "eval" / name).read_text(encoding="utf-8"))
        out += [q["question"] for q in data["questions"]]
    return out


def main() -> None:
    """Print one line per role: stage percentiles, then recall of the product's dense path."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--policy", type=Path, default=Path("/work/shared/corpora/network-docs/tags.yaml")
    )
    ap.add_argument("--roles", default="unrestricted,network_engineer,security_engineer,helpdesk")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--recall-questions", type=int, default=150, help="0: no recall check")
    args = ap.parse_args()
    qs = questions()
    print(f"{len(qs)} questions x {args.rounds} rounds, k={args.k}, load {os.getloadavg()}")
    with SearchService(None) as admin:
        assert admin.index_model is not None, "empty index"
        dim = admin.index_model[1]
        services = {}
        for role in args.roles.split(","):
            services[role] = (
                admin
                if role == "unrestricted"
                else SearchService.for_role(
                    role, args.policy, conn=admin.conn, embedder=admin.embedder
                )
            )
        backend = admin.conn.info.backend_pid
        for svc in services.values():  # warm-up
            for q in qs[:20]:
                svc.search(q, args.k)
        samples = {r: {s: [] for s in STAGES} for r in services}
        for _ in range(args.rounds):
            for q in qs:
                for role, svc in services.items():
                    t: dict[str, float] = {}
                    cpu0, backend0 = time.process_time_ns(), oncpu_ns(backend)
                    start = time.perf_counter()
                    svc.search(q, args.k, timings=t)
                    t["total_ms"] = (time.perf_counter() - start) * 1000
                    cpu = time.process_time_ns() - cpu0 + oncpu_ns(backend) - backend0
                    t["cpu_ms"] = cpu / 1e6
                    for s in STAGES:
                        samples[role][s].append(t.get(s, 0.0))
        vectors = [admin.embed_query(q) for q in qs[: args.recall_questions]]
        n = candidates_for(args.k)
        for role, svc in services.items():
            stages = "  ".join(
                f"{s[:-3]} {p['p50']:.1f}/{p['p95']:.1f}"
                for s in STAGES
                for p in [percentiles(samples[role][s])]
            )
            found = close = wanted = 0
            for v in vectors:
                exact = dense_hits(admin.conn, v, svc.allowed, n, dim, exact=True)
                got = dense_hits(admin.conn, v, svc.allowed, n, dim)
                found += len({h.chunk_id for h in exact} & {h.chunk_id for h in got})
                # near-duplicate chunks tie: a different chunk at the same distance is no miss
                kth = min(h.score for h in exact) if exact else 1.0
                close += sum(1 for h in got if h.score >= kth - TIE)
                wanted += len(exact)
            recall = (
                f"ids {found / wanted:.4f}, within the exact k-th distance {close / wanted:.4f}"
                if wanted
                else "not measured"
            )
            print(f"{role:18} p50/p95 ms: {stages}  dense recall@{n}: {recall}")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
