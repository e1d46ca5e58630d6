"""Scores from per-question outcomes: recall@5, MRR@10, refusal rate, leaks (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from netdocs.evaluation.questions import CATEGORIES

RECALL_AT = 5
MRR_AT = 10


def first_rank(paths: Sequence[str], relevant: Callable[[str], bool]) -> int | None:
    """1-based rank of the first path that is ``relevant``, if any."""
    return next((i for i, p in enumerate(paths, start=1) if relevant(p)), None)


@dataclass(frozen=True)
class Outcome:
    """One question asked as one role in one stage.

    ``expected``: the role may see a source, so the question should be found; a question
    whose sources are all hidden from the role is expected NOT to be found. ``rank`` counts
    only sources the role may see. ``leaks`` are retrieved paths the role may not see.
    ``refused``: the answer would be flagged low confidence (or nothing was found).
    """

    qid: str
    category: str
    expected: bool
    rank: int | None
    refused: bool
    leaks: tuple[str, ...] = ()
    source_shown: bool = False  # a source appeared although none is visible to the role
    #: rank in a top-5 search of its own, when that differs from the top 10's head
    #: (per-document diversity chooses a top 5 that is not the first five of a top 10)
    rank5: int | None = None
    own_top5: bool = False

    @property
    def hit(self) -> bool:
        """Found in the top 5, with nothing leaked."""
        rank = self.rank5 if self.own_top5 else self.rank
        return rank is not None and rank <= RECALL_AT and not self.leaks

    @property
    def reciprocal_rank(self) -> float:
        if self.rank is None or self.rank > MRR_AT or self.leaks:
            return 0.0
        return 1.0 / self.rank


@dataclass(frozen=True)
class Scores:
    """Aggregates over a group of outcomes (None where the group has no such question)."""

    answerable: int
    recall: float | None
    mrr: float | None
    hidden: int  # answerable questions whose sources the role may not see
    hidden_ok: int  # ... of which no source was shown
    unanswerable: int
    refusal_rate: float | None  # unanswerable questions flagged low confidence
    false_refusals: int  # expected questions flagged low confidence
    leaks: int  # retrieved chunks the role may not see

    def to_json(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "recall@5": None if self.recall is None else round(self.recall, 3),
            "mrr@10": None if self.mrr is None else round(self.mrr, 3),
            "hidden": self.hidden,
            "hidden_ok": self.hidden_ok,
            "unanswerable": self.unanswerable,
            "refusal_rate": None if self.refusal_rate is None else round(self.refusal_rate, 3),
            "false_refusals": self.false_refusals,
            "leaks": self.leaks,
        }


def aggregate(outcomes: Iterable[Outcome]) -> Scores:
    """Recall and MRR over the questions expected to be found; refusal over unanswerable."""
    items = list(outcomes)
    expected = [o for o in items if o.category != "unanswerable" and o.expected]
    hidden = [o for o in items if o.category != "unanswerable" and not o.expected]
    off = [o for o in items if o.category == "unanswerable"]
    n = len(expected)
    return Scores(
        answerable=n,
        recall=sum(o.hit for o in expected) / n if n else None,
        mrr=sum(o.reciprocal_rank for o in expected) / n if n else None,
        hidden=len(hidden),
        hidden_ok=sum(1 for o in hidden if not o.source_shown and not o.leaks),
        unanswerable=len(off),
        refusal_rate=sum(o.refused for o in off) / len(off) if off else None,
        false_refusals=sum(o.refused for o in expected),
        leaks=sum(len(o.leaks) for o in items),
    )


def by_category(outcomes: Iterable[Outcome]) -> dict[str, Scores]:
    """``aggregate`` per category present, in the order of CATEGORIES."""
    items = list(outcomes)
    return {
        c: aggregate(o for o in items if o.category == c)
        for c in CATEGORIES
        if any(o.category == c for o in items)
    }
