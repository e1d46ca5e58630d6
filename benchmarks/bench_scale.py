"""How netdocs' costs grow with the corpus (part of ``make bench``).

For each size N: grow the corpus to N documents (benchmarks/grow_corpus.py, seeded), then
on a fresh database of the same server with the same model file: full ingest, no-change
re-run (three cold CLI processes, the median reported with every round; and the flow run
again in a warm process, as a served deployment runs it), 1 % of the files edited by one
sentence (cold CLI processes: wall time, peak RSS of the ingest process), the index's size
on disk, and in a fresh process the retrieval latency (question embedded + fused search)
p50/p95/p99 with and without a role filter, and the recall of the HNSW search against an
exact scan under the most selective role.

``python benchmarks/bench_scale.py --child query POLICY`` is the query child (not for
direct use): it reads the index of NETDOCS_DATABASE_URL.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_side import _child, create_database  # noqa: E402
from benchmarks.grow_corpus import grow  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    NOCHANGE_ROUNDS,
    counted_cli,
    edit_files,
    load,
    median_run,
    percentiles,
    sample_corpus,
)

SEED = 14
ROLES = ("network_engineer", "helpdesk")
SELECTIVE_ROLE = "helpdesk"  # faq + troubleshooting_guides: the fewest chunks
RECALL_K = 10
ROUNDS = 5


def index_size(url: str) -> dict[str, Any]:
    """Bytes on disk: the chunks table with its indexes, the embedding cache, the database."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('chunks'), pg_indexes_size('chunks'),"
            " pg_total_relation_size('embedding_cache'), pg_database_size(current_database()),"
            " (SELECT count(*) FROM chunks), (SELECT count(*) FROM documents)"
        ).fetchone()
    assert row is not None
    keys = ("chunks_bytes", "chunks_index_bytes", "embedding_cache_bytes", "database_bytes")
    out: dict[str, Any] = dict(zip(keys, row[:4], strict=True))
    out["chunks"], out["documents"] = row[4], row[5]
    return out


def measure(
    env: dict[str, str],
    docs: Path,
    policy: list[str],
    out: dict[str, Any],
    saved: Callable[[], object],
) -> dict[str, Any]:
    """Full ingest, no-change, 1 % edit, size and queries on an index of ``docs``."""
    out["full"] = counted_cli(env, "ingest", str(docs), *policy)
    saved()
    runs = [counted_cli(env, "ingest", str(docs), *policy) for _ in range(NOCHANGE_ROUNDS)]
    out["nochange_cold"] = median_run(runs)
    out["nochange_inprocess"] = _child(env, "inprocess", str(docs), *policy[1:])
    edited = edit_files(docs, 0.01, SEED)
    out["edit"] = counted_cli(env, "ingest", str(docs), *policy)
    out["edit"]["files_edited"] = len(edited)
    out["size"] = index_size(env["NETDOCS_DATABASE_URL"])
    saved()
    qenv = {**env, "NETDOCS_QUERY_CACHE_TTL": "0"}
    out["query"] = _child(qenv, "query", *policy[1:], script=__file__) if policy else {}
    saved()
    return out


def run(
    base_env: dict[str, str],
    server_url: str,
    corpus: Path,
    policy_file: Path | None,
    work: Path,
    sizes: list[int],
    backend: str,
    embedder: str = "local",
    out: dict[str, Any] | None = None,
    saved: Callable[[], object] = lambda: None,
) -> dict[str, Any]:
    """Every size in turn; returns {N: figures}. ``embedder="hashing"``: netdocs' hashing
    embedder instead of the model (no model time in any figure; for the costs around it)."""
    policy = ["--policy", str(policy_file)] if policy_file else []
    out = out if out is not None else {}  # filled row by row; ``saved()`` after each step
    originals = sum(1 for _ in corpus.rglob("*.md"))
    for n in sizes:
        docs = work / f"scale-{n}"
        started = time.perf_counter()
        if n < originals:  # below the corpus: a seeded sample of it
            generated = []
            sample_corpus(corpus, docs, n / originals, SEED)
        else:
            generated = grow(corpus, docs, n, SEED)
        gen_s = time.perf_counter() - started
        url = create_database(server_url, f"nd_scale_{n}")
        env = {**base_env, "NETDOCS_DATABASE_URL": url, "NETDOCS_LOCAL_BACKEND": backend}
        env["NETDOCS_EMBEDDING_PROVIDER"] = embedder
        print(f"  scale {n} documents ({len(generated)} generated) ... (load {load()})", flush=True)
        out[str(n)] = {"generated": len(generated), "generate_s": round(gen_s, 1)}
        out[str(n)]["embedder"] = embedder
        measure(env, docs, policy, out[str(n)], saved)
    return out


# -- the query child --------------------------------------------------------------------


def _questions() -> list[str]:
    import yaml

    data = yaml.safe_load((REPO / "eval" / "questions.yaml").read_text(encoding="utf-8"))
    return [q["question"] for q in data["questions"]] + list(data.get("unanswerable", []))


def child_query(policy: Path) -> dict[str, Any]:
    """Latency p50/p95/p99 per role (interleaved rounds) and HNSW recall vs exact."""
    from netdocs.query.search import dense_hits
    from netdocs.query.service import SearchService

    questions = _questions()
    out: dict[str, Any] = {"questions": len(questions), "rounds": ROUNDS}
    with SearchService(None) as admin:
        assert admin.index_model is not None, "empty index"
        dim = admin.index_model[1]
        services = {"unrestricted": admin}
        for role in ROLES:
            services[role] = SearchService.for_role(
                role, policy, conn=admin.conn, embedder=admin.embedder
            )
        for q in questions:  # warm-up: model, caches, prepared plans
            for svc in services.values():
                svc.search(q, 5)
        samples: dict[str, list[float]] = {name: [] for name in services}
        for _ in range(ROUNDS):
            for q in questions:
                for name, svc in services.items():
                    t = time.perf_counter()
                    svc.search(q, 5)
                    samples[name].append((time.perf_counter() - t) * 1000)
        out["retrieval_ms"] = {k: percentiles(v) for k, v in samples.items()}
        selective = services[SELECTIVE_ROLE]
        allowed = selective.allowed
        total = admin.conn.execute("SELECT count(*) FROM chunks").fetchone()
        visible = admin.conn.execute(
            "SELECT count(*) FROM chunks WHERE tags && %s::text[]", (sorted(allowed or ()),)
        ).fetchone()
        found = wanted = 0
        for q in questions:
            vec = admin.embed_query(q)
            approx = dense_hits(admin.conn, vec, allowed, RECALL_K, dim, exact=False)
            exact = dense_hits(admin.conn, vec, allowed, RECALL_K, dim, exact=True)
            truth = {h.chunk_id for h in exact}
            found += len(truth & {h.chunk_id for h in approx})
            wanted += len(truth)
        out["recall"] = {
            "role": SELECTIVE_ROLE,
            "k": RECALL_K,
            "visible_share": round(visible[0] / total[0], 4) if total and visible else None,
            "hnsw_vs_exact": round(found / wanted, 4) if wanted else None,
        }
    return out


if __name__ == "__main__":
    print(json.dumps(child_query(Path(sys.argv[3]))))
