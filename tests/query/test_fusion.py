"""Reciprocal rank fusion and the pure SQL builders."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdocs.query import sql
from netdocs.query.fusion import DENSE_WEIGHT, RRF_K, rrf
from netdocs.query.results import Hit
from netdocs.query.search import HEADING_BONUS, candidates_for, fulltext_params, fuse
from netdocs.query.terms import NO_STATS, TermPlan, TermStats, plan_terms


def test_rrf_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(rrf([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63)


def test_rrf_orders_by_score_then_best_rank_then_first_appearance() -> None:
    # a and x tie on score (rank 1 in one list each); a appeared first.
    assert [key for key, _ in rrf([["a", "b"], ["x", "b"]])] == ["b", "a", "x"]
    # d (ranks 2 and 2) beats e (ranks 1 and 3) on score only by fusion arithmetic:
    # 2/62 = 0.032258 vs 1/61 + 1/63 = 0.032266 -> e first.
    assert [key for key, _ in rrf([["e", "d"], ["z", "d", "e"]])][:2] == ["e", "d"]


def test_rrf_counts_duplicates_in_one_list_once() -> None:
    assert dict(rrf([["a", "a", "a"]], k=60))["a"] == pytest.approx(1 / 61)


def test_rrf_weights_scale_each_list() -> None:
    fused = dict(rrf([["a", "b"], ["b", "c"]], k=10, weights=[2.0, 1.0]))
    assert fused["a"] == pytest.approx(2 / 11)
    assert fused["b"] == pytest.approx(2 / 12 + 1 / 11)
    assert fused["c"] == pytest.approx(1 / 12)
    # With the first list weighted up, its top item beats one ranked well in both.
    assert [key for key, _ in rrf([["a", "b"], ["c", "b"]], k=1, weights=[3.0, 1.0])][0] == "a"
    assert [key for key, _ in rrf([["a", "b"], ["c", "b"]], k=1)][0] == "b"
    with pytest.raises(ValueError):
        rrf([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[-1.0])


def test_rrf_edge_cases() -> None:
    assert rrf([]) == []
    assert rrf([[], []]) == []
    with pytest.raises(ValueError):
        rrf([["a"]], k=-1)


@given(st.lists(st.lists(st.integers(0, 30), max_size=20, unique=True), max_size=4))
def test_rrf_properties(rankings: list[list[int]]) -> None:
    fused = rrf(rankings)
    keys = [key for key, _ in fused]
    assert sorted(keys) == sorted({x for r in rankings for x in r})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    # Something ranked first everywhere it appears, in every list, is first.
    if rankings and all(r for r in rankings) and len({r[0] for r in rankings}) == 1:
        assert keys[0] == rankings[0][0]


def _hit(cid: str, **kw: object) -> Hit:
    return Hit(chunk_id=cid, path=f"{cid}.md", heading="H", text="t", score=0.0, **kw)  # type: ignore[arg-type]


def test_fuse_keeps_both_lists_evidence() -> None:
    dense = [_hit("a", cosine=0.9), _hit("b", cosine=0.8)]
    text = [_hit("b", text_rank=0.5, all_terms=True), _hit("c", text_rank=0.1)]
    out = fuse(dense, text, k=2)
    assert [h.chunk_id for h in out] == ["b", "a"]
    assert out[0].cosine == 0.8 and out[0].text_rank == 0.5 and out[0].all_terms
    assert out[0].score == pytest.approx(DENSE_WEIGHT / (RRF_K + 2) + 1 / (RRF_K + 1))


def test_candidates_per_list() -> None:
    assert candidates_for(1) == candidates_for(10) == 20
    assert candidates_for(50) == 100


def test_acl_clause_is_a_bind_parameter() -> None:
    for stmt in (
        sql.dense_sql(384, restricted=True).as_string(),
        sql.dense_sql(384, restricted=True, exact=True).as_string(),
        sql.fulltext_sql(3, restricted=True).as_string(),
        sql.permitted_count_sql().as_string(),
    ):
        assert "c.tags && %(allowed)s::text[]" in stmt
    for stmt in (
        sql.dense_sql(384, restricted=False).as_string(),
        sql.fulltext_sql(3, restricted=False).as_string(),
    ):
        assert "allowed" not in stmt


def test_dense_sql_matches_the_index_expression() -> None:
    stmt = sql.dense_sql(384, restricted=False).as_string()
    assert "c.embedding::vector(384) <=> %(q)s::vector(384)" in stmt
    assert "::vector(384)" not in sql.dense_sql(384, restricted=False, exact=True).as_string()


def test_fulltext_sql_has_one_weighted_term_per_lexeme() -> None:
    stmt = sql.fulltext_sql(3, restricted=False).as_string()
    assert all(f"%(q{i})s" in stmt and f"%(w{i})s" in stmt for i in range(3))
    assert "%(q3)s" not in stmt
    with pytest.raises(ValueError):
        sql.fulltext_sql(0, restricted=False)


def test_term_weights_and_candidates() -> None:
    stats = TermStats({"configur": 0.4, "server": 0.2, "bgp": 0.02}, floor=0.01)
    plan = plan_terms(["configur", "bgp", "rpki", "server", "bgp"], stats)
    assert [lex for lex, _ in plan.terms] == ["rpki", "bgp", "server", "configur"]
    assert plan.terms[0][1] == pytest.approx(math.log(1 / 0.005))  # unlisted: floor / 2
    assert plan.candidates == ("rpki", "bgp")  # the selective lexemes pick candidates
    common = plan_terms(["configur", "server"], stats)
    assert common.candidates == ("server",)  # none selective: the rarest one
    flat = plan_terms(["a", "b"], NO_STATS)
    assert flat.terms == (("a", 1.0), ("b", 1.0)) and flat.candidates == ("a", "b")
    assert plan_terms([], stats) == TermPlan((), ())


def test_candidate_lexemes_stay_within_the_row_budget() -> None:
    # 100,000 chunks: rpki ~500 rows (unlisted: floor / 2), bgp 2,000, ospf 2,500; budget 2,500.
    stats = TermStats({"bgp": 0.02, "ospf": 0.025, "server": 0.2}, floor=0.01, rows=100_000)
    plan = plan_terms(["server", "ospf", "bgp", "rpki"], stats)
    assert plan.candidates == ("rpki", "bgp")  # ospf would pass the budget: left out
    assert [lex for lex, _ in plan.terms] == ["rpki", "bgp", "ospf", "server"]  # all still score
    big = TermStats({"bgp": 0.02, "ospf": 0.025}, floor=0.01, rows=1_000_000)
    assert plan_terms(["ospf", "bgp"], big).candidates == ("bgp",)  # over budget: the rarest
    small = TermStats({"bgp": 0.02, "ospf": 0.025}, floor=0.01, rows=10_000)
    assert plan_terms(["ospf", "bgp"], small).candidates == ("bgp", "ospf")


def test_fulltext_params_quote_lexemes() -> None:
    plan = TermPlan((("it's", 2.0), ("a\\b", 1.0)), ("it's",))
    params = fulltext_params(plan)
    assert params["any"] == "'it''s'"
    assert params["all"] == "'it''s' & 'a\\\\b'"
    assert params["h0"] == "'it''s':A" and params["b0"] == pytest.approx(2.0 * HEADING_BONUS)
