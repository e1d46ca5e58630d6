"""Reciprocal rank fusion and the pure SQL builders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdocs.query import sql
from netdocs.query.fusion import rrf
from netdocs.query.results import Hit
from netdocs.query.search import candidates_for, fuse


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
    assert dict(rrf([["a", "a", "a"]]))["a"] == pytest.approx(1 / 61)


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
    assert out[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_candidates_per_list() -> None:
    assert candidates_for(1) == 20
    assert candidates_for(10) == 40


def test_acl_clause_is_a_bind_parameter() -> None:
    for stmt in (
        sql.dense_sql(384, restricted=True).as_string(),
        sql.dense_sql(384, restricted=True, exact=True).as_string(),
        sql.fulltext_sql(restricted=True).as_string(),
        sql.permitted_count_sql().as_string(),
    ):
        assert "c.tags && %(allowed)s::text[]" in stmt
    for stmt in (
        sql.dense_sql(384, restricted=False).as_string(),
        sql.fulltext_sql(restricted=False).as_string(),
    ):
        assert "allowed" not in stmt


def test_dense_sql_matches_the_index_expression() -> None:
    stmt = sql.dense_sql(384, restricted=False).as_string()
    assert "c.embedding::vector(384) <=> %(q)s::vector(384)" in stmt
    assert "::vector(384)" not in sql.dense_sql(384, restricted=False, exact=True).as_string()


def test_any_terms_strips_websearch_operators() -> None:
    assert sql.any_terms('add a "BGP peer" -x (y) OR z') == "add or a or BGP or peer or x or y or z"
    assert sql.any_terms("   ") == ""
