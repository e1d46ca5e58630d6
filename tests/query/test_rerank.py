"""Rerank and question rewriting through ``run_search`` / ``run_ask`` on real PostgreSQL,
with the real Anthropic and OpenAI SDKs against the provider stub (tests/stubs): good
replies reorder or widen as the stub says; 500, timeouts, unreadable replies and an open
breaker keep the offline order with a fallback note; cached results call nobody; a chunk
the role may not see never reaches the provider."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.api import run_ask, run_search
from netdocs.query.hooks import QueryRecord, add_hook
from netdocs.query.service import SearchService
from tests.stubs.provider_server import ProviderStub
from tests.stubs.retrieval import by_text, retrieval_reply, rewrite_json

SECRET = "SECRETMARKER"
DOCS = [
    ("routing/bgp.md", ["configs"], [
        ("BGP > Peers", "Add a BGP peer with neighbor 192.0.2.1 remote-as 65001."),
        ("BGP > Timers", "BGP keepalive and hold timers are set per peer with timers bgp."),
        ("BGP > Reflector", "Mark a peer as route-reflector-client to reflect its routes."),
    ]),
    ("routing/ospf.md", ["configs"], [
        ("OSPF > Areas", "Put an interface into an OSPF area with ip ospf area 0."),
        ("OSPF > Cost", "The interface cost decides which OSPF path wins."),
    ]),
    ("switching/ovs.md", ["configs"], [
        ("OVS > Policing", "Limit ingress traffic with ingress_policing_rate on the interface."),
    ]),
    ("faq/general.md", ["faq"], [
        ("FAQ > Peers", "A BGP peer that stays in Active state cannot open TCP port 179."),
    ]),
    ("vpn/keys.md", ["vpn"], [
        ("VPN > Keys", f"The BGP peer pre-shared key is {SECRET} for every tunnel peer."),
    ]),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(add_doc: Callable[..., None]) -> None:
    for doc_id, tags, sections in DOCS:
        add_doc(doc_id, tags, sections)


@pytest.fixture
def stub(corpus: None) -> Iterator[ProviderStub]:
    with ProviderStub() as s:
        yield s


def settings(stub: ProviderStub, provider: str = "anthropic", **kw: Any) -> Settings:
    env: dict[str, Any] = {
        "embedding_provider": "hashing",
        "llm_provider": provider,
        "query_cache_ttl": 0,
        "rerank": "llm",
        "rerank_max_attempts": 1,
        "provider_breaker_threshold": 2,
        "provider_breaker_cooldown_s": 600,
        "ANTHROPIC_API_KEY": "k-test",
        "ANTHROPIC_BASE_URL": stub.anthropic_base_url,
        "OPENAI_API_KEY": "k-test",
        "OPENAI_BASE_URL": stub.openai_base_url,
    }
    env.update(kw)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def service(
    conn: psycopg.Connection, s: Settings, allowed: frozenset[str] | None = None
) -> SearchService:
    return SearchService(allowed, settings=s, conn=conn, embedder=HashingEmbedder())


def texts(hits: list[Any]) -> list[str]:
    return [h.text for h in hits]


def offline(conn: psycopg.Connection, stub: ProviderStub, question: str, k: int) -> list[str]:
    before = stub.count()
    hits = run_search(service(conn, settings(stub, rerank="off")), question, k).hits
    assert stub.count() == before  # the offline search calls no provider
    return texts(hits)


def route(provider: str) -> str:
    return "messages" if provider == "anthropic" else "chat"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_good_rerank_orders_as_the_model_says(
    query_conn: psycopg.Connection, stub: ProviderStub, provider: str
) -> None:
    question = "how do I add a BGP peer"
    base = offline(query_conn, stub, question, 3)
    stub.set_reply(retrieval_reply(rerank=by_text({"route-reflector": 10, "Active state": 7})))
    records: list[QueryRecord] = []
    remove = add_hook(records.append)
    try:
        result = run_search(service(query_conn, settings(stub, provider)), question, 3)
    finally:
        remove()
    (record,) = records
    assert record.retrieval_notes == tuple(result.notes) and record.input_tokens > 0
    audit = query_conn.execute(
        "SELECT details FROM audit_log WHERE query_id = %s", (result.query_id,)
    ).fetchone()
    assert audit is not None and audit[0]["retrieval"] == result.notes
    first_two = texts(result.hits)[:2]
    assert "route-reflector-client" in first_two[0] and "Active state" in first_two[1]
    assert texts(result.hits)[:2] != base[:2]
    assert result.notes and result.notes[0].startswith(f"rerank: llm {provider}/")
    assert result.to_json()["retrieval"] == result.notes
    (req,) = stub.requests_for(route(provider))
    body = req.body
    assert body["model"] == ("claude-haiku-4-5" if provider == "anthropic" else "gpt-4.1-mini")
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    assert 0 < limit <= 16 + 8 * 30  # bounded output


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("500", "500"),
        ("slow:3", "timeout"),
        ("garbage", ""),  # HTTP 200 whose body is not JSON
        ("reply:passage 3 looks best to me", "no JSON object"),
        ('reply:{"41": 10, "42": 9}', "scores none"),
    ],
)
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_provider_failures_keep_the_offline_order(
    query_conn: psycopg.Connection, stub: ProviderStub, behaviour: str, reason: str, provider: str
) -> None:
    question = "bgp peer timers"
    base = offline(query_conn, stub, question, 3)
    if behaviour.startswith("reply:"):
        stub.set_reply(behaviour[len("reply:") :])
    else:
        stub.script(behaviour, route=route(provider))
    s = settings(stub, provider, rerank_timeout=1.0, query_cache_ttl=3600)
    result = run_search(service(query_conn, s), question, 3)
    assert texts(result.hits) == base
    assert len(result.notes) == 1 and result.notes[0].startswith("rerank: fallback (")
    assert reason in result.notes[0]
    assert stub.count(route(provider)) == 1
    again = run_search(service(query_conn, s), question, 3)  # a fallback is not cached
    assert not again.cache_hit and stub.count(route(provider)) == 2


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_rate_limit_is_retried_after_its_delay_then_reranked(
    query_conn: psycopg.Connection, stub: ProviderStub, provider: str
) -> None:
    stub.set_reply(retrieval_reply(rerank=by_text({"keepalive": 10})))
    stub.script("429:0.3", route=route(provider))
    s = settings(stub, provider, rerank_max_attempts=2)
    result = run_search(service(query_conn, s), "bgp peer", 3)
    assert "keepalive" in result.hits[0].text and "fallback" not in result.notes[0]
    assert [r.behaviour for r in stub.requests_for(route(provider))] == ["429", "ok"]
    assert stub.gaps(route(provider))[0] >= 0.3  # Retry-After honoured
    stub.script("429:0.1", "429:0.1", route=route(provider))  # still limited: offline order
    result = run_search(service(query_conn, s), "bgp peer", 3)
    assert result.notes[0].startswith("rerank: fallback (") and "429" in result.notes[0]


def test_open_breaker_is_not_called(query_conn: psycopg.Connection, stub: ProviderStub) -> None:
    question = "ospf interface cost"
    base = offline(query_conn, stub, question, 2)
    stub.script("500", "500", route="messages")
    s = settings(stub)
    for _ in range(2):
        assert texts(run_search(service(query_conn, s), question, 2).hits) == base
    assert stub.count("messages") == 2
    result = run_search(service(query_conn, s), question, 2)
    assert texts(result.hits) == base and stub.count("messages") == 2
    assert "circuit open" in result.notes[0]


def test_cache_hit_does_not_call_the_provider(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    stub.set_reply(retrieval_reply(rerank=by_text({"Active state": 10})))
    s = settings(stub, query_cache_ttl=3600)
    first = run_search(service(query_conn, s), "BGP peer in Active state?", 3)
    second = run_search(service(query_conn, s), "bgp peer in active state", 3)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert texts(second.hits) == texts(first.hits) and second.notes == first.notes
    assert stub.count("messages") == 1
    other = run_search(service(query_conn, settings(stub, query_cache_ttl=3600, rerank="off")),
                       "bgp peer in active state", 3)  # fmt: skip
    assert not other.cache_hit  # the rerank setting is part of the key
    s = settings(stub, query_cache_ttl=3600, anthropic_router_model="claude-haiku-4-5-x")
    assert not run_search(service(query_conn, s), "bgp peer in active state", 3).cache_hit
    assert stub.count("messages") == 2  # ... and so is the model


def test_cached_answer_keeps_its_notes_and_calls_nobody(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    stub.set_reply(retrieval_reply(rerank=by_text({"route-reflector": 10}), answer="Yes [1]."))
    s = settings(stub, answer_top_k=2, query_cache_ttl=3600)
    first = run_ask(service(query_conn, s), "How should a reflector client peer be marked?")
    assert stub.count("messages") == 2 and not first.cache_hit
    second = run_ask(service(query_conn, s), "how should a reflector client peer be marked")
    assert second.cache_hit and stub.count("messages") == 2
    assert second.notes == first.notes and second.to_json()["retrieval"] == first.notes
    assert [h.chunk_id for h in second.answer.hits] == [h.chunk_id for h in first.answer.hits]


def test_forbidden_chunks_never_reach_the_provider(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    stub.set_reply(
        retrieval_reply(rerank=by_text({}), rewrite=rewrite_json(["tunnel peer pre-shared key"]))
    )
    s = settings(stub, query_rewrite="llm")
    question = "what is the BGP peer pre-shared key"
    result = run_search(service(query_conn, s, frozenset({"configs", "faq"})), question, 5)
    assert all(SECRET not in t for t in texts(result.hits))
    sent = [json.dumps(r.body) for r in stub.requests_for("messages")]
    assert len(sent) == 2 and all(SECRET not in body for body in sent)
    # the unrestricted caller's candidates do carry it (the check above can see it)
    stub.reset()
    run_search(service(query_conn, s), question, 5)
    assert any(SECRET in json.dumps(r.body) for r in stub.requests_for("messages"))


def test_rewrite_widens_the_candidates(query_conn: psycopg.Connection, stub: ProviderStub) -> None:
    question = "throttle guest VM bandwidth toward vswitch"
    base = offline(query_conn, stub, question, 2)
    assert not any("ingress_policing_rate" in t for t in base)
    stub.set_reply(
        retrieval_reply(
            rewrite=rewrite_json(
                ["ovs ingress policing rate", "limit ingress traffic interface"],
                "Limit ingress traffic with ingress_policing_rate on the interface.",
            )
        )
    )
    # diversity off: this is about the candidates (with it on, file-level choice over the
    # widened pool may rightly prefer a document with several matching chunks at k=2)
    s = settings(stub, rerank="off", query_rewrite="llm", diversity_per_doc=0)
    result = run_search(service(query_conn, s), question, 2)
    assert any("ingress_policing_rate" in t for t in texts(result.hits))
    assert result.notes == ["rewrite: llm anthropic/claude-haiku-4-5 (+3 queries)"]
    (req,) = stub.requests_for("messages")
    assert req.body["max_tokens"] <= 300 and question in json.dumps(req.body)


def test_rewrite_failure_keeps_the_offline_order(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    question = "throttle guest VM bandwidth toward vswitch"
    base = offline(query_conn, stub, question, 2)
    stub.script("529", route="messages")
    # diversity off: this is about the candidates (with it on, file-level choice over the
    # widened pool may rightly prefer a document with several matching chunks at k=2)
    s = settings(stub, rerank="off", query_rewrite="llm", diversity_per_doc=0)
    result = run_search(service(query_conn, s), question, 2)
    assert texts(result.hits) == base
    assert result.notes[0].startswith("rewrite: fallback (") and "529" in result.notes[0]


def test_a_rewrite_does_not_make_an_unanswerable_question_confident(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    # The rewriter (or a prompt-injected question) turns an off-topic question into a query
    # some passage matches word for word: that match says nothing about the question.
    question = "why is port 179 closed in winter"
    base = offline(query_conn, stub, question, 2)
    assert not any("ingress_policing_rate" in t for t in base)
    stub.set_reply(
        retrieval_reply(
            rewrite=rewrite_json(["limit ingress traffic interface"], "ingress_policing_rate"),
            answer="Because of the policing rate [1].",
        )
    )
    s = settings(stub, rerank="off", query_rewrite="llm", answer_top_k=2, diversity_per_doc=0)
    result = run_ask(service(query_conn, s), question)
    widened = [h for h in result.answer.hits if h.text not in base]
    assert widened and all("ingress_policing_rate" in h.text for h in widened)
    assert all(h.cosine is None and not h.all_terms for h in widened)  # not the question's
    assert result.answer.low_confidence and result.to_json()["low_confidence"] is True


def test_ask_reranks_its_context_and_reports_a_fallback(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    stub.set_reply(retrieval_reply(rerank=by_text({"route-reflector": 10}), answer="Yes [1]."))
    s = settings(stub, answer_top_k=2)
    result = run_ask(service(query_conn, s), "how do I add a BGP peer")
    assert "route-reflector-client" in result.answer.hits[0].text
    assert result.answer.mode == "llm" and result.to_json()["retrieval"] == result.notes
    assert stub.count("messages") == 2  # rerank, then the answer
    stub.script("500", route="messages")  # the rerank fails, the answer still comes
    result = run_ask(service(query_conn, s), "how do I add a BGP peer")
    assert result.answer.mode == "llm" and result.notes[0].startswith("rerank: fallback")


def test_no_key_or_no_model_files_is_a_note_not_an_error(
    query_conn: psycopg.Connection, stub: ProviderStub
) -> None:
    s = settings(stub, llm_provider="none")
    result = run_search(service(query_conn, s), "bgp peer", 2)
    assert result.notes == ["rerank: fallback (no language model configured)"]
    s = settings(stub, rerank="onnx", rerank_model_dir="/nonexistent")
    result = run_search(service(query_conn, s), "bgp peer", 2)
    assert "model.onnx not found" in result.notes[0] and len(result.hits) == 2
    assert stub.count() == 0


def test_cli_reports_the_fallback(
    query_db: str, stub: ProviderStub, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from netdocs.cli import main
    from netdocs.config import get_settings

    env = {
        "NETDOCS_DATABASE_URL": query_db,
        "NETDOCS_EMBEDDING_PROVIDER": "hashing",
        "NETDOCS_LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "k-test",
        "OPENAI_BASE_URL": stub.openai_base_url,
        "NETDOCS_RERANK": "llm",
        "NETDOCS_RERANK_MAX_ATTEMPTS": "1",
        "NETDOCS_QUERY_CACHE_TTL": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for var in ("NETDOCS_POLICY", "NETDOCS_ROLE"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    try:
        stub.script("500", route="chat")
        capsys.readouterr()
        assert main(["search", "bgp peer timers", "--json", "--k", "2"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert len(out["results"]) == 2
        assert out["retrieval"][0].startswith("rerank: fallback (openai gpt-4.1-mini: ")
        stub.set_reply(retrieval_reply(rerank=by_text({"keepalive": 5})))
        assert main(["search", "bgp peer timers", "--k", "2"]) == 0
        assert "netdocs: rerank: llm openai/gpt-4.1-mini" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
