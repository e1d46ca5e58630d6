"""Retrieval quality on the shared corpus: recall@5 and MRR@10 for dense, full-text, fused.

Needs an index of the whole corpus (``netdocs ingest ../shared/corpora/network-docs``) in the
configured database (NETDOCS_HOME / NETDOCS_DATABASE_URL). Searches unrestricted (no role).

    .venv/bin/python eval/run_eval.py [--questions eval/questions.yaml] [--json] [--check]

``--check`` exits 1 unless fused is at least as good as each single mode on both metrics.
The second table calibrates the fallback's low-confidence rule on the `unanswerable` list.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netdocs.query.fallback import low_confidence
from netdocs.query.ranked import ranked_hits
from netdocs.query.results import Hit
from netdocs.query.search import MODES
from netdocs.query.service import SearchService

HERE = Path(__file__).resolve().parent
RECALL_AT = 5
MRR_AT = 10


@dataclass(frozen=True)
class Question:
    """One evaluation question and the files that answer it."""

    id: str
    text: str
    sources: tuple[str, ...]

    def relevant(self, path: str) -> bool:
        """True when ``path`` is a source file or lies under a source folder."""
        return any(path == s or path.startswith(s.rstrip("/") + "/") for s in self.sources)


def load(path: Path) -> tuple[list[Question], list[str]]:
    """The scored questions and the unanswerable ones."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = [Question(q["id"], q["question"], tuple(q["sources"])) for q in data["questions"]]
    return questions, list(data.get("unanswerable") or [])


def first_relevant_rank(q: Question, hits: list[Hit]) -> int | None:
    """1-based rank of the first chunk from a source file, if any."""
    return next((i for i, h in enumerate(hits, start=1) if q.relevant(h.path)), None)


def evaluate(service: SearchService, questions: list[Question]) -> dict[str, Any]:
    """Per mode: recall@5, MRR@10 and the per-question ranks."""
    report: dict[str, Any] = {}
    vectors = {q.id: service.embed_query(q.text) for q in questions}
    for mode in MODES:
        ranks: dict[str, int | None] = {}
        top5: dict[str, int | None] = {}
        for q in questions:
            # As users get them (NETDOCS_DIVERSITY_PER_DOC applies): with diversity a top 5
            # is not the first five of a top 10, so recall@5 asks for k=5 itself.
            hits = ranked_hits(service, q.text, MRR_AT, mode, vector=vectors[q.id])
            ranks[q.id] = first_relevant_rank(q, hits)
            hits = ranked_hits(service, q.text, RECALL_AT, mode, vector=vectors[q.id])
            top5[q.id] = first_relevant_rank(q, hits)
        n = len(questions)
        recall = sum(1 for r in top5.values() if r is not None) / n
        mrr = sum(1.0 / r for r in ranks.values() if r is not None) / n
        report[mode] = {
            "recall@5": round(recall, 3),
            "mrr@10": round(mrr, 3),
            "ranks": ranks,
            "ranks@5": top5,
        }
    return report


def calibrate(
    service: SearchService, questions: list[Question], unanswerable: list[str], k: int = 5
) -> dict[str, Any]:
    """Best cosine / all-terms evidence for answerable vs unanswerable questions."""

    def evidence(text: str) -> tuple[float, bool, list[Hit]]:
        hits = service.search(text, k=k)
        best = max((h.cosine for h in hits if h.cosine is not None), default=0.0)
        return best, any(h.all_terms for h in hits), hits

    threshold = service.settings.fallback_min_cosine
    answerable = [evidence(q.text) for q in questions]
    off_topic = [evidence(t) for t in unanswerable]
    return {
        "threshold": threshold,
        "answerable_best_cosine": sorted(round(b, 3) for b, _, _ in answerable),
        "unanswerable_best_cosine": sorted(round(b, 3) for b, _, _ in off_topic),
        "answerable_flagged_low": sum(low_confidence(h, threshold) for _, _, h in answerable),
        "unanswerable_flagged_low": sum(low_confidence(h, threshold) for _, _, h in off_topic),
        "answerable": len(answerable),
        "unanswerable": len(off_topic),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the tables (or one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=HERE / "questions.yaml")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="fail unless fused is best")
    args = parser.parse_args(argv)
    questions, unanswerable = load(args.questions)
    with SearchService(None) as service:
        if service.index_model is None:
            print("the index is empty: ingest the corpus first", file=sys.stderr)
            return 2
        report = evaluate(service, questions)
        cal = calibrate(service, questions, unanswerable)
    if args.json:
        print(json.dumps({"modes": report, "calibration": cal, "questions": len(questions)}))
    else:
        per_doc = service.settings.diversity_per_doc
        print(f"{len(questions)} questions, model {service.index_model[0]}, per_doc {per_doc}")
        print(f"{'mode':<10}{'recall@5':>10}{'MRR@10':>10}")
        for mode in MODES:
            r = report[mode]
            print(f"{mode:<10}{r['recall@5']:>10.3f}{r['mrr@10']:>10.3f}")
        misses = [qid for qid, r in report["fused"]["ranks@5"].items() if r is None]
        print(f"fused misses at 5: {', '.join(misses) or 'none'}")
        print(
            f"low-confidence rule (best cosine < {cal['threshold']}, no all-terms hit): "
            f"{cal['answerable_flagged_low']}/{cal['answerable']} answerable flagged, "
            f"{cal['unanswerable_flagged_low']}/{cal['unanswerable']} unanswerable flagged"
        )
        print(f"  best cosine, answerable:   {cal['answerable_best_cosine']}")
        print(f"  best cosine, unanswerable: {cal['unanswerable_best_cosine']}")
    if args.check:
        fused = report["fused"]
        worse = [
            m
            for m in ("dense", "fulltext")
            if any(fused[key] < report[m][key] for key in ("recall@5", "mrr@10"))
        ]
        if worse:
            print(f"fused is worse than {worse}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
