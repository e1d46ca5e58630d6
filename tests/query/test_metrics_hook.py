"""Per-stage timings of a real search/ask, and the post-query hook that turns one into a
metric row (as the shared query entry point will call it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from netdocs.config import Settings, get_settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.metrics.hook import metric_from, on_query
from netdocs.metrics.record import STAGES, record_query
from netdocs.query.answerer import Answerer
from netdocs.query.llm import AnthropicChat
from netdocs.query.results import Answer, Hit
from netdocs.query.service import SearchService
from netdocs.resilience import RetryPolicy
from tests.stubs.provider_server import ProviderStub

InsertDoc = Callable[..., None]


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: InsertDoc) -> None:
    add_doc(
        "routing/bgp.md",
        ["configs"],
        [("BGP > Neighbors", "Add a BGP peer with neighbor 192.0.2.1 remote-as 65001.")],
    )
    add_doc("vpn/wg.md", ["vpn"], [("WireGuard > Keys", "Generate a key with wg genkey.")])


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, llm_provider="none", **kw)  # type: ignore[arg-type, call-arg]


def _row(conn: psycopg.Connection, query_id: str) -> dict[str, Any]:
    cur = conn.execute("SELECT * FROM query_metrics WHERE query_id = %s", (query_id,))
    names = [d.name for d in cur.description or []]
    row = cur.fetchone()
    assert row is not None, query_id
    return dict(zip(names, row, strict=True))


@pytest.mark.parametrize(
    ("mode", "stages"),
    [
        ("fused", {"embed_ms", "fulltext_ms", "dense_ms", "fuse_ms"}),
        ("dense", {"embed_ms", "dense_ms"}),
        ("fulltext", {"fulltext_ms"}),
    ],
)
def test_search_fills_the_stages_it_runs(
    query_conn: psycopg.Connection, embedder: HashingEmbedder, mode: str, stages: set[str]
) -> None:
    service = SearchService(None, settings=_settings(), conn=query_conn, embedder=embedder)
    timings: dict[str, float] = {}
    hits = service.search("add a BGP peer", k=3, mode=mode, timings=timings)  # type: ignore[arg-type]
    assert hits and hits[0].path == "routing/bgp.md"
    assert set(timings) == stages
    assert all(v > 0 for v in timings.values())
    assert service.search("add a BGP peer", k=3) == service.search(
        "add a BGP peer", k=3, timings={}
    )


def test_ask_records_a_metric_row_with_its_stages(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    settings = _settings()
    service = SearchService(None, settings=settings, conn=query_conn, embedder=embedder)
    timings: dict[str, float] = {}
    hits = service.search("add a BGP peer", k=5, timings=timings)
    answer = Answerer(settings, chat=None).answer("add a BGP peer", hits, timings=timings)
    assert set(timings) == set(STAGES)
    metric = metric_from(
        query_id=answer.query_id,
        kind="ask",
        latency_ms=answer.latency_ms,
        answer=answer,
        timings=timings,
        role="network_engineer",
        user="alice",
        k=5,
        settings=settings,
    )
    assert record_query(query_conn, metric)
    row = _row(query_conn, answer.query_id)
    for stage in STAGES:
        assert row[stage] == pytest.approx(timings[stage])
    assert row["result_count"] == len(hits) == 2 and row["empty"] is False
    assert (row["mode"], row["model"], row["input_tokens"]) == ("fallback", None, 0)
    assert (row["role"], row["user_name"], row["kind"], row["k"]) == (
        "network_engineer",
        "alice",
        "ask",
        5,
    )
    assert row["low_confidence"] is answer.low_confidence


@dataclass
class Record:
    """What the shared entry point's post-query record looks like to the hook."""

    query_id: str
    kind: str
    role: str | None
    latency_ms: float
    hits: list[Hit] = field(default_factory=list)
    answer: Answer | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cache_hit: bool = False
    k: int | None = None
    user: str | None = None


def test_on_query_takes_a_plain_record_and_never_raises(
    query_conn: psycopg.Connection, embedder: HashingEmbedder
) -> None:
    service = SearchService(None, settings=_settings(), conn=query_conn, embedder=embedder)
    timings: dict[str, float] = {}
    hits = service.search("quantum chromodynamics", k=5, mode="fulltext", timings=timings)
    assert hits == []
    on_query(
        Record("q-empty", "search", "helpdesk", 3.5, hits, None, timings, True, 5), conn=query_conn
    )
    row = _row(query_conn, "q-empty")
    assert row["empty"] is True and row["low_confidence"] is True and row["cache_hit"] is True
    assert row["fulltext_ms"] == pytest.approx(timings["fulltext_ms"]) and row["dense_ms"] is None
    on_query(object(), conn="postgresql://nobody@127.0.0.1:1/none")  # must not raise
    on_query(None, conn=query_conn)  # neither
    on_query({"query_id": "q-bad", "hits": 7}, conn=query_conn)  # nor a malformed record
    n = query_conn.execute("SELECT count(*) FROM query_metrics WHERE query_id = 'q-bad'")
    assert n.fetchone() == (0,)


def test_llm_ask_tokens_and_configured_price(
    query_conn: psycopg.Connection, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETDOCS_CHAT_PRICES_PER_MTOK", '{"claude-sonnet-4": [10.0, 100.0]}')
    get_settings.cache_clear()  # on_query reads the configured price table
    settings = _settings()
    hits = SearchService(None, settings=settings, conn=query_conn, embedder=embedder).search(
        "add a BGP peer", k=2
    )
    with ProviderStub() as stub:
        stub.set_reply("Use neighbor ... remote-as [1].")
        chat = AnthropicChat(
            "test-key",
            model="claude-sonnet-4-5",
            router_model="claude-haiku-4-5",
            base_url=stub.anthropic_base_url,
            timeout=5,
            retry=RetryPolicy(max_attempts=1),
        )
        timings: dict[str, float] = {}
        answer = Answerer(settings, chat=chat, router=False).answer("BGP?", hits, timings=timings)
    assert answer.mode == "llm" and answer.input_tokens > 0
    rec = Record(answer.query_id, "ask", "admin", answer.latency_ms, [], answer, timings)
    on_query(rec, conn=query_conn)
    row = _row(query_conn, answer.query_id)
    assert (row["input_tokens"], row["output_tokens"]) == (
        answer.input_tokens,
        answer.output_tokens,
    )
    assert row["model"] == "claude-sonnet-4-5" and row["mode"] == "llm"
    want = (answer.input_tokens * 10.0 + answer.output_tokens * 100.0) / 1e6
    assert row["cost_usd"] == pytest.approx(want)
    assert row["generate_ms"] == pytest.approx(timings["generate_ms"])
    get_settings.cache_clear()
