"""Choose the fusion constants on the dev set, then report them on the held-out set.

    .venv/bin/python eval/tune_fusion.py [--dev eval/questions.yaml] [--test eval/heldout.yaml]

Fetches, once per question, the dense and full-text candidate lists exactly as a k=10 search
does (``candidates_for(10)`` each), then fuses them offline for every (RRF k, dense weight)
on a small grid. The rule, fixed before looking at the held-out set: the highest dev MRR@10,
then the highest dev recall@5, then the configuration closest to plain RRF (k=60, weight 1).
The held-out table then shows dense-only, full-text-only, plain RRF and the chosen constants.
Needs an index of the whole corpus (see run_eval.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from netdocs.evaluation.metrics import MRR_AT, RECALL_AT, first_rank
from netdocs.evaluation.questions import Question, load_set
from netdocs.query.fusion import DENSE_WEIGHT, RRF_K
from netdocs.query.results import Hit
from netdocs.query.search import candidates_for, fuse
from netdocs.query.service import SearchService

HERE = Path(__file__).resolve().parent
GRID_K = (5, 10, 20, 30, 45, 60, 90)
GRID_W = (1.0, 1.25, 1.5, 2.0, 3.0)
Lists = dict[str, tuple[list[Hit], list[Hit]]]


def candidate_lists(service: SearchService, questions: Sequence[Question]) -> Lists:
    """Per question: (dense candidates, full-text candidates), as a k=10 search gets them."""
    n = candidates_for(MRR_AT)
    out: Lists = {}
    for q in questions:
        vector = service.embed_query(q.text)
        dense = service.search(q.text, k=n, mode="dense", vector=vector)
        text = service.search(q.text, k=n, mode="fulltext", vector=vector)
        out[q.id] = (dense, text)
    return out


def scores(questions: Sequence[Question], ranked: dict[str, list[Hit]]) -> tuple[float, float]:
    """(recall@5, MRR@10) of one ranking per question."""
    ranks = [first_rank([h.path for h in ranked[q.id][:MRR_AT]], q.relevant) for q in questions]
    recall = sum(1 for r in ranks if r is not None and r <= RECALL_AT) / len(questions)
    mrr = sum(1.0 / r for r in ranks if r is not None) / len(questions)
    return recall, mrr


def fused(lists: Lists, rrf_k: int, weight: float) -> dict[str, list[Hit]]:
    """Every question's lists fused with the given constants."""
    return {
        qid: fuse(dense, text, MRR_AT, rrf_k=rrf_k, dense_weight=weight)
        for qid, (dense, text) in lists.items()
    }


def choose(questions: Sequence[Question], lists: Lists) -> tuple[int, float, float, float]:
    """The dev rule: best MRR, then recall, then closest to plain RRF."""
    best: tuple[tuple[float, float, float], int, float, float, float] | None = None
    for k in GRID_K:
        for w in GRID_W:
            recall, mrr = scores(questions, fused(lists, k, w))
            closeness = -(abs(k - 60) / 60 + abs(w - 1.0))
            key = (round(mrr, 6), round(recall, 6), closeness)
            if best is None or key > best[0]:
                best = (key, k, w, recall, mrr)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def table(title: str, questions: Sequence[Question], lists: Lists, k: int, w: float) -> None:
    """Print recall@5 / MRR@10 of the single modes, plain RRF and (k, w) fusion."""
    rows = {
        "dense": {qid: d for qid, (d, _) in lists.items()},
        "fulltext": {qid: t for qid, (_, t) in lists.items()},
        "fused, RRF k=60 w=1": fused(lists, 60, 1.0),
        f"fused, RRF k={k} w={w:g}": fused(lists, k, w),
    }
    print(f"{title}: {len(questions)} questions")
    print(f"  {'ranking':<24}{'recall@5':>10}{'MRR@10':>10}")
    for name, ranked in rows.items():
        recall, mrr = scores(questions, ranked)
        print(f"  {name:<24}{recall:>10.3f}{mrr:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    """Tune on dev, report on held-out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=HERE / "questions.yaml")
    parser.add_argument("--test", type=Path, default=HERE / "heldout.yaml")
    args = parser.parse_args(argv)
    dev = load_set(args.dev).answerable
    test = load_set(args.test).answerable
    with SearchService(None) as service:
        if service.index_model is None:
            print("the index is empty: ingest the corpus first", file=sys.stderr)
            return 2
        dev_lists = candidate_lists(service, dev)
        test_lists = candidate_lists(service, test)
    k, w, recall, mrr = choose(dev, dev_lists)
    print(
        f"chosen on dev: RRF k={k}, dense weight {w:g} (dev recall@5 {recall:.3f}, MRR {mrr:.3f})"
    )
    print(f"current defaults: RRF k={RRF_K}, dense weight {DENSE_WEIGHT:g}")
    table("dev (tuning set)", dev, dev_lists, k, w)
    table("held-out (never tuned on)", test, test_lists, k, w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
