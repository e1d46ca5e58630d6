"""Narrowed full-text candidates (a question of common words on a large index) give exactly
the broad query's top n: the chunks left out cannot outscore the n-th kept one, and when
they might, the broad query runs instead.

The sample is small, so the row budget is lowered until every question's one candidate
lexeme exceeds it: the narrowing then fires for nearly every question, on the real
database, and its results are compared with the same query scoring every candidate."""

from __future__ import annotations

import weakref

import psycopg
import pytest
import yaml

from netdocs.query import search, terms
from netdocs.query.terms import TermPlan

from ..conftest import REPO
from .conftest import InsertDoc

_SAMPLE = yaml.safe_load((REPO / "eval" / "sample.yaml").read_text(encoding="utf-8"))
QUESTIONS = [q["question"] for q in _SAMPLE["questions"]] + list(_SAMPLE["unanswerable"])


def broad(plan_terms_result: TermPlan) -> TermPlan:
    return TermPlan(plan_terms_result.terms, plan_terms_result.candidates)


@pytest.mark.parametrize("n", [3, 20])
@pytest.mark.parametrize("allowed", [None, frozenset({"configs", "runbooks"})])
def test_narrowed_candidates_give_the_broad_top_n(
    sample_db: str, monkeypatch: pytest.MonkeyPatch, n: int, allowed: frozenset[str] | None
) -> None:
    monkeypatch.setattr(terms, "CANDIDATE_ROW_BUDGET", 1)
    narrowed: list[TermPlan] = []
    real_plan = search.plan_terms

    def spy(lexemes: list[str], stats: terms.TermStats) -> TermPlan:
        plan = real_plan(lexemes, stats)
        if plan.narrow:
            narrowed.append(plan)
        return plan

    with psycopg.connect(sample_db) as conn:
        conn.execute("ANALYZE chunks")
        conn.commit()
        monkeypatch.setattr(search, "plan_terms", spy)
        got = [search.fulltext_hits(conn, q, allowed, n) for q in QUESTIONS]
        monkeypatch.setattr(search, "plan_terms", lambda lx, st: broad(real_plan(lx, st)))
        want = [search.fulltext_hits(conn, q, allowed, n) for q in QUESTIONS]

    assert len(narrowed) >= len(QUESTIONS) // 2  # the narrowing ran for most questions
    assert all(p.bound <= terms.MAX_LEFT_OUT_SCORE for p in narrowed)
    for question, g, w in zip(QUESTIONS, got, want, strict=True):
        assert [(h.chunk_id, round(h.score, 9)) for h in g] == [
            (h.chunk_id, round(h.score, 9)) for h in w
        ], question


def test_the_plan_narrows_only_past_the_budget_and_keeps_the_heavier_lexemes() -> None:
    # 100,000 chunks; "server" alone (20,000 rows) is past the budget of 2,500.
    stats = terms.TermStats({"server": 0.2, "one": 0.3, "config": 0.25}, floor=0.001, rows=100_000)
    plan = terms.plan_terms(["server", "one", "config", "rpkx"], stats)
    assert plan.candidates == ("rpkx",) and not plan.narrow  # a rare lexeme: no narrowing
    plan = terms.plan_terms(["server", "one", "config"], stats)
    assert plan.candidates == ("server",)
    weights = dict(plan.terms)
    # "one" (the lightest) is left out of the second group while the bound allows
    left_out = [lex for lex, _ in plan.terms if lex not in plan.narrow and lex != "server"]
    assert plan.narrow and "config" in plan.narrow
    assert plan.bound == pytest.approx(
        (1 + terms.HEADING_BONUS) * (weights["server"] + sum(weights[x] for x in left_out))
    )
    assert plan.bound <= terms.MAX_LEFT_OUT_SCORE
    small = terms.TermStats({"server": 0.2, "one": 0.3}, floor=0.001, rows=10_000)
    assert not terms.plan_terms(["server", "one"], small).narrow  # 2,000 rows: within budget


def test_a_chunk_left_out_by_the_narrowing_still_wins_when_it_scores_higher(
    query_conn: psycopg.Connection, add_doc: InsertDoc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "zebra" in one chunk's heading alone outscores chunks holding "zebra" and the very
    common "alpha" in their text: the narrowed query (zebra & alpha) finds 4 chunks for a top
    3 without it, so only the bound check brings the heading match back."""
    for i in range(20):
        add_doc(f"common{i}.md", ["faq"], [(f"Note {i}", f"alpha remark number {i}")])
    for i in range(4):
        add_doc(f"both{i}.md", ["faq"], [(f"Pair {i}", f"zebra alpha together {i}")])
    add_doc("head.md", ["faq"], [("Zebra", "nothing else to see in this section")])
    query_conn.execute("ANALYZE chunks")
    monkeypatch.setattr(terms, "CANDIDATE_ROW_BUDGET", 1)
    monkeypatch.setattr(terms, "_cache", weakref.WeakKeyDictionary())
    plan = terms.plan_terms(["zebra", "alpha"], terms.load_stats(query_conn))
    assert plan.candidates == ("zebra",) and plan.narrow == ("alpha",)  # the narrowing fires
    hits = search.fulltext_hits(query_conn, "zebra alpha", None, 3)
    assert [h.path for h in hits][0] == "head.md"
    assert {h.path for h in hits[1:]} <= {f"both{i}.md" for i in range(4)}
