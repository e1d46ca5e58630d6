"""Recall@20 of the forced HNSW path against an exact scan, per role and ``hnsw.ef_search``.

Uses the configured index (NETDOCS_HOME / NETDOCS_DATABASE_URL) and the eval questions;
the policy is the shared corpus's ``tags.yaml`` unless given.

    python benchmarks/probe_hnsw_ef.py [--policy FILE] [--roles helpdesk,security_engineer]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

import netdocs.query.search as search
from netdocs.query.search import dense_hits
from netdocs.query.service import SearchService

REPO = Path(__file__).resolve().parents[1]
SETS = ("questions.yaml", "heldout.yaml", "heldout-paraphrase.yaml")
EFS = (64, 200, 400, 1000)
K = 20


def main() -> None:
    """Print one line per role and ef_search."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--policy", type=Path, default=REPO.parent / "shared/corpora/network-docs/tags.yaml"
    )
    ap.add_argument("--roles", default="helpdesk,security_engineer")
    args = ap.parse_args()
    questions: list[str] = []
    for name in SETS:
        data = yaml.safe_load((REPO / "eval" / name).read_text(encoding="utf-8"))
        questions += [q["question"] for q in data["questions"]]
    with SearchService(None) as admin:
        assert admin.index_model is not None, "empty index"
        dim = admin.index_model[1]
        total = admin.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        vectors = [admin.embed_query(q) for q in questions]
        for role in args.roles.split(","):
            svc = SearchService.for_role(
                role, args.policy, conn=admin.conn, embedder=admin.embedder
            )
            allowed = svc.allowed
            visible = admin.conn.execute(
                "SELECT count(*) FROM chunks WHERE tags && %s::text[]", (sorted(allowed or ()),)
            ).fetchone()[0]
            truth = [
                {h.chunk_id for h in dense_hits(admin.conn, v, allowed, K, dim, exact=True)}
                for v in vectors
            ]
            for ef in EFS:
                search.ef_search = lambda n, share=1.0, ef=ef: ef  # type: ignore[assignment,misc]
                found = sum(
                    len(
                        t
                        & {
                            h.chunk_id
                            for h in dense_hits(admin.conn, v, allowed, K, dim, exact=False)
                        }
                    )
                    for v, t in zip(vectors, truth, strict=True)
                )
                share = visible / total
                print(
                    f"{role}: {visible}/{total} visible ({share:.3f}), ef_search {ef}: "
                    f"recall@{K} {found / sum(map(len, truth)):.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
