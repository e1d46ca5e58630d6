"""``--k`` is bounded (exit 2 naming it) and HNSW ``ef_search`` stays within pgvector's 1..1000,
on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from netdocs.cli import main
from netdocs.config import get_settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.search import ef_search, search
from netdocs.query.tagshare import visible_share

N_CHUNKS = 120


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: Callable[..., None]) -> None:
    sections = [(f"Router {i}", f"router r{i} peers with bgp neighbour {i}") for i in range(60)]
    add_doc("routing/a.md", ["configs"], sections)
    add_doc("routing/b.md", ["configs"], [(h + "b", t + " b") for h, t in sections])


@pytest.fixture(autouse=True)
def env(query_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NETDOCS_DATABASE_URL", query_db)
    monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
    monkeypatch.delenv("NETDOCS_POLICY", raising=False)
    monkeypatch.delenv("NETDOCS_ROLE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("k", ["251", "101", "0", "-3", "five"])
def test_k_out_of_range_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], k: str
) -> None:
    for cmd in ("search", "ask"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "bgp neighbour", "--k", k])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "--k" in err and "1 to 100" in err and "Traceback" not in err


def test_k_100_is_served(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "bgp neighbour", "--k", "100", "--mode", "dense"]) == 0
    assert capsys.readouterr().out.count("(score ") == 100


def test_library_search_beyond_the_ef_limit_does_not_fail(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    """k=600 asks 1200 candidates: ef_search would be 2400, which pgvector rejects."""
    vector = embedder.embed(["bgp neighbour"])[0]
    hits = search(query_conn, "bgp neighbour", vector, None, k=600, mode="dense")
    assert len(hits) == N_CHUNKS


def test_ef_search_bounds() -> None:
    assert [ef_search(n) for n in (1, 40, 499, 500, 501, 10_000)] == [64, 80, 998, 1000, 1000, 1000]


def test_ef_search_grows_as_the_tag_filter_narrows() -> None:
    # 20 candidates: 6 % of the chunks visible needs ~667, a third ~120, within 64..1000.
    assert [ef_search(20, s) for s in (1.0, 0.34, 0.06, 0.01, 0.0)] == [64, 118, 667, 1000, 1000]


def test_visible_share_from_tag_statistics() -> None:
    shares = {"faq": 0.02, "runbooks": 0.7, "vpn": 0.06}
    assert visible_share(shares, None) == 1.0
    assert visible_share(None, ["faq"]) == 1.0  # no statistics yet: no scaling
    assert visible_share(shares, ["faq", "vpn"]) == pytest.approx(0.08)
    assert visible_share(shares, ["faq", "unlisted"]) == pytest.approx(0.03)  # half the rarest
    assert visible_share(shares, ["runbooks", "vpn", "faq", "faq"]) == pytest.approx(0.78)
    assert visible_share(shares, ["runbooks", "runbooks2"]) == pytest.approx(0.71)
    assert visible_share({"a": 0.8, "b": 0.7}, ["a", "b"]) == 1.0  # overlap: capped
