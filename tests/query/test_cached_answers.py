"""Cached answers served on the event loop (netdocs.server.fastpath) and the one-statement
replay of a remembered entry (netdocs.cache.replay), on real PostgreSQL: served only while
everything the three-statement path checks still holds, always with its audit and metric
rows, never to a caller whose tags cannot see it, and declined (None: the threaded path
decides) whenever the loop alone cannot tell."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from netdocs.cache import store
from netdocs.cache.replay import replay_params, replay_sql
from netdocs.config import Settings
from netdocs.query.api import run_search
from netdocs.query.lifecycle import QueryInfo, record_parts, together_params
from netdocs.server.auth import AuthError, Principal
from netdocs.server.fastpath import CachedAnswers
from netdocs.server.runtime import Busy, Runtime
from netdocs.server.tokens import create_token
from netdocs.store.snapshot import read_snapshot

from .conftest import store_policy_text

T = TypeVar("T")
Q = "how do I rotate the vpn gateway keys"
POLICY = "roles:\n  hd: {allow: [faq]}\n  sec: {allow: [faq, secret]}\n"
HD = Principal("dana", "hd", "token")
SEC = Principal("sam", "sec", "token")


@pytest.fixture(scope="module")
def rt(
    query_db: str,
    query_conn: psycopg.Connection,
    add_doc: Callable[..., None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Runtime]:
    add_doc("faq/vpn.md", ["faq"], [("VPN", "Rotate the vpn gateway keys from the portal.")])
    add_doc("sec/vpn-keys.md", ["secret"], [("Keys", "The vpn gateway keys live in vault 7.")])
    store_policy_text(query_conn, tmp_path_factory.mktemp("p"), POLICY)
    settings = Settings(
        policy=None,
        embedding_provider="hashing",
        llm_provider="none",
        query_cache_ttl="24h",
        serve_token_cache_s=600,
    )
    runtime = Runtime(settings, query_db)
    yield runtime
    runtime.close()


def _token(rt: Runtime, who: Principal) -> dict[str, str]:
    """A real token for ``who``, looked up once (as a first request would) so it is cached."""
    with rt.connection() as conn:
        _, secret = create_token(conn, who.user, who.role)
        assert rt.tokens.lookup(conn, secret) is not None
    return {"authorization": f"Bearer {secret}"}


def _loop(rt: Runtime, work: Callable[[CachedAnswers], Awaitable[T]]) -> T:
    async def main() -> T:
        ca = CachedAnswers(rt)
        await ca.open()
        assert ca.pool is not None
        await ca.pool.wait()
        try:
            return await work(ca)
        finally:
            await ca.close()

    return asyncio.run(main())


def _audit(conn: psycopg.Connection, query_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT user_name, role, cache_hit, paths FROM audit_log WHERE query_id = %s",
        (query_id,),
    ).fetchall()


def _metrics(conn: psycopg.Connection, query_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM query_metrics WHERE query_id = %s", (query_id,))
    return int((row.fetchone() or (0,))[0])


def _rank(rt: Runtime, who: Principal) -> list[str]:
    """The threaded path (ranks and caches on a miss): the result's paths."""
    with rt.connection() as conn:
        return [h.path for h in run_search(rt.service(conn, who), Q, k=3).hits]


def test_a_cached_search_is_served_then_replayed_each_time_with_its_audit_rows(
    rt: Runtime, query_conn: psycopg.Connection
) -> None:
    headers = _token(rt, HD)
    ranked = _rank(rt, HD)
    assert ranked and all(p.startswith("faq/") for p in ranked)

    async def work(ca: CachedAnswers) -> list[dict[str, Any] | None]:
        return [await ca.search(headers, None, Q, 3, "fused", None, "chunk") for _ in range(3)]

    served = _loop(rt, work)
    ids = set()
    for out in served:  # the first read from the index, the next two replayed
        assert out is not None and out["cache_hit"] is True
        assert [r["path"] for r in out["results"]] == ranked
        ids.add(out["query_id"])
        assert _audit(query_conn, out["query_id"]) == [("dana", "hd", True, ranked)]
        assert _metrics(query_conn, out["query_id"]) == 1
    assert len(ids) == 3


def test_a_document_listing_is_served_as_the_threaded_path_lists_it(rt: Runtime) -> None:
    headers = _token(rt, HD)
    with rt.connection() as conn:
        first = run_search(rt.service(conn, HD), Q, k=3, by="document").to_json()
        again = run_search(rt.service(conn, HD), Q, k=3, by="document").to_json()
    assert again["cache_hit"] and again["results"] == first["results"]
    assert first["results"] and "chunks" in str(first["results"][0])

    async def work(ca: CachedAnswers) -> list[dict[str, Any] | None]:
        return [await ca.search(headers, None, Q, 3, "fused", None, "document") for _ in "ab"]

    for out in _loop(rt, work):  # read, then replayed
        assert out is not None and out["cache_hit"] is True
        assert out["results"] == first["results"]


def test_a_cached_answer_is_served_with_its_citations_and_audit_rows(
    rt: Runtime, query_conn: psycopg.Connection
) -> None:
    from netdocs.query.api import run_ask

    headers = _token(rt, HD)
    with rt.connection() as conn:
        first = run_ask(rt.service(conn, HD), Q, k=3).to_json()
    assert first["cache_hit"] is False and first["citations"]

    async def work(ca: CachedAnswers) -> list[dict[str, Any] | None]:
        return [await ca.ask(headers, None, Q, 3, None, passages) for passages in (False, True)]

    plain, with_passages = _loop(rt, work)
    for out in (plain, with_passages):
        assert out is not None and out["cache_hit"] is True
        assert (out["answer"], out["citations"]) == (first["answer"], first["citations"])
        assert out["query_id"] != first["query_id"]
        (row,) = _audit(query_conn, out["query_id"])
        assert row[:3] == ("dana", "hd", True)
    assert plain is not None and "passages" not in plain
    assert with_passages is not None and with_passages["passages"]


def test_the_loop_declines_what_only_the_threaded_path_can_decide(rt: Runtime) -> None:
    headers = _token(rt, HD)
    _rank(rt, HD)
    unknown = {"authorization": "Bearer nd_" + uuid.uuid4().hex}
    with rt.connection() as conn:
        _, fresh = create_token(conn, "erin", "hd")  # live, but not looked up yet

    async def work(ca: CachedAnswers) -> list[Any]:
        return [
            await ca.search(unknown, None, Q, 3, "fused", None, "chunk"),
            await ca.search(
                {"authorization": f"Bearer {fresh}"}, None, Q, 3, "fused", None, "chunk"
            ),
            await ca.search({}, "127.0.0.1", Q, 3, "fused", None, "chunk"),  # no token
            await ca.search(headers, None, "a question never asked", 3, "fused", None, "chunk"),
        ]

    assert _loop(rt, work) == [None, None, None, None]

    async def other_role(ca: CachedAnswers) -> Any:
        return await ca.search(headers, None, Q, 3, "fused", "sec", "chunk")

    with pytest.raises(AuthError) as e:
        _loop(rt, other_role)
    assert e.value.status == 403


def test_with_every_connection_in_use_the_next_request_is_busy_not_queued_forever(
    rt: Runtime,
) -> None:
    headers = _token(rt, HD)
    _rank(rt, HD)

    async def work(ca: CachedAnswers) -> float:
        assert ca.pool is not None
        held = [await ca.pool.getconn() for _ in range(rt.limit)]  # requests in flight
        started = time.monotonic()
        try:
            with pytest.raises(Busy):
                await ca.search(headers, None, Q, 3, "fused", None, "chunk")
            return time.monotonic() - started
        finally:
            for conn in held:
                await ca.pool.putconn(conn)

    waited = _loop(rt, work)
    assert waited < rt.settings.serve_queue_timeout_s + 5  # the slot wait, then 503


def test_behind_a_table_lock_the_loop_declines_instead_of_hanging(
    rt: Runtime, query_db: str
) -> None:
    """A migration or VACUUM FULL holds chunks exclusively: the cached lookup gives up after
    the slot wait (lock_timeout on the loop's connections), and the threaded path decides."""
    headers = _token(rt, HD)
    _rank(rt, HD)  # an entry the loop would serve

    async def work(ca: CachedAnswers) -> tuple[dict[str, Any] | None, float]:
        started = time.monotonic()
        out = await asyncio.wait_for(ca.search(headers, None, Q, 3, "fused", None, "chunk"), 30)
        return out, time.monotonic() - started

    with psycopg.connect(query_db) as lock:
        lock.execute("LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE")
        out, waited = _loop(rt, work)
        lock.rollback()
    assert out is None
    assert waited < rt.settings.serve_queue_timeout_s + 5


def test_another_roles_remembered_entry_is_never_served(
    rt: Runtime, query_conn: psycopg.Connection
) -> None:
    sec, hd = _token(rt, SEC), _token(rt, HD)
    assert any(p.startswith("sec/") for p in _rank(rt, SEC))

    async def work(ca: CachedAnswers) -> list[Any]:
        first = await ca.search(sec, None, Q, 3, "fused", None, "chunk")  # remembered
        return [first, await ca.search(hd, None, Q, 3, "fused", None, "chunk")]

    sec_out, hd_out = _loop(rt, work)
    assert sec_out is not None and any(r["path"].startswith("sec/") for r in sec_out["results"])
    assert hd_out is None or not any(r["path"].startswith("sec/") for r in hd_out["results"])


def test_a_change_to_the_index_is_seen_by_the_next_request(
    rt: Runtime, add_doc: Callable[..., None]
) -> None:
    headers = _token(rt, HD)
    _rank(rt, HD)
    outs: list[Any] = []

    async def work(ca: CachedAnswers) -> None:
        outs.append(await ca.search(headers, None, Q, 3, "fused", None, "chunk"))
        outs.append(await ca.search(headers, None, Q, 3, "fused", None, "chunk"))  # replayed
        await asyncio.to_thread(add_doc, "faq/vpn2.md", ["faq"], [("VPN", "vpn gateway keys")])
        outs.append(await ca.search(headers, None, Q, 3, "fused", None, "chunk"))

    _loop(rt, work)
    assert outs[0] is not None and outs[1] is not None
    assert outs[2] is None  # the remembered entry is of the old generation: not served


# --- the replay statement itself: every condition, one at a time ---------------------


def _entry(
    rt: Runtime, conn: psycopg.Connection, who: Principal
) -> tuple[Any, store.CachedResult, frozenset[str] | None]:
    """The index snapshot and the cache entry a remembered hit would hold."""
    _rank(rt, who)
    svc = rt.service(conn, who)
    from netdocs.query.api import search_key_settings
    from netdocs.query.lifecycle import query_key
    from netdocs.query.rerank.pipeline import RetrievalPlan

    snap = read_snapshot(conn)
    assert snap.model is not None
    s = rt.settings
    settings = search_key_settings(3, "fused", "chunk", s.diversity_per_doc, RetrievalPlan.build(s))
    _, key = query_key("search", Q, svc.allowed, snap.generation, settings, snap.model[0])
    entry = store.lookup_visible(conn, key, s.query_cache_ttl, svc.allowed, s.stale_max_age)
    assert entry is not None and entry.created_at is not None
    return snap, entry, svc.allowed


def _replay(
    conn: psycopg.Connection,
    rt: Runtime,
    snap: Any,
    entry: store.CachedResult,
    allowed: frozenset[str] | None,
    *,
    ttl: float | None = None,
    stale_s: float | None = None,
) -> tuple[bool, str]:
    from datetime import timedelta

    from netdocs.query.api import search_of_entry

    run = QueryInfo("search", Q, 3, "fused", "dana")
    hits, _, _ = search_of_entry(entry, "chunk")
    row, details, record = record_parts(run, allowed, "hd", rt.settings, hits, True, 1.0, {})
    values = together_params(row, details, record)
    assert values is not None
    s = rt.settings
    stale = s.stale_max_age if stale_s is None else timedelta(seconds=stale_s)
    params = replay_params(
        snap, entry, s.query_cache_ttl if ttl is None else ttl, allowed, stale, values
    )
    got = conn.execute(replay_sql(restricted=allowed is not None), params).fetchone()
    assert got is not None
    return bool(got[0]), run.query_id


def test_replay_writes_the_rows_when_everything_still_holds(
    rt: Runtime, query_conn: psycopg.Connection
) -> None:
    snap, entry, allowed = _entry(rt, query_conn, HD)
    ok, qid = _replay(query_conn, rt, snap, entry, allowed)
    assert ok
    hits = [h["chunk_id"] for h in entry.result["hits"]]
    paths = [h["path"] for h in entry.result["hits"]]
    audit = query_conn.execute(
        "SELECT user_name, role, tags, question, chunk_ids, paths, cache_hit, details"
        " FROM audit_log WHERE query_id = %s",
        (qid,),
    ).fetchall()
    details = {"k": 3, "mode": "fused", "latency_ms": 1.0}
    assert audit == [("dana", "hd", sorted(allowed or ()), Q, hits, paths, True, details)]
    metric = query_conn.execute(
        "SELECT kind, role, user_name, latency_ms, result_count, cache_hit, k,"
        " abs(extract(epoch FROM now() - ts)) < 60 FROM query_metrics WHERE query_id = %s",
        (qid,),
    ).fetchall()
    assert metric == [("search", "hd", "dana", 1.0, len(hits), True, 3, True)]


@pytest.mark.parametrize(
    "change", ["generation", "cleared", "replaced", "policy", "tags", "ttl", "withdrawn"]
)
def test_replay_writes_nothing_once_anything_has_changed(
    rt: Runtime,
    query_conn: psycopg.Connection,
    add_doc: Callable[..., None],
    tmp_path: Path,
    change: str,
) -> None:
    snap, entry, allowed = _entry(rt, query_conn, HD)
    kw: dict[str, float] = {}
    if change == "generation":
        add_doc(f"faq/{uuid.uuid4().hex[:6]}.md", ["faq"], [("X", "another page")])
    elif change == "cleared":
        query_conn.execute("DELETE FROM query_cache WHERE cache_key = %s", (entry.cache_key,))
    elif change == "replaced":
        query_conn.execute(
            "UPDATE query_cache SET created_at = now() WHERE cache_key = %s", (entry.cache_key,)
        )
    elif change == "policy":
        store_policy_text(query_conn, tmp_path, POLICY + "  ops: {allow: [faq]}\n")
    elif change == "tags":
        allowed = frozenset({"secret-only"})  # a tag set that cannot see the entry's chunks
    elif change == "ttl":
        time.sleep(0.05)
        kw["ttl"] = 0.01
    elif change == "withdrawn":  # stale for longer than the maximum age: withdrawn
        time.sleep(0.05)
        kw["stale_s"] = 0.01
        query_conn.execute(
            "UPDATE chunks SET stale_since = now() - interval '1 second' WHERE doc_id LIKE 'faq/%%'"
        )
        snap = read_snapshot(query_conn)  # only the withdrawal differs, not the generation
    try:
        ok, qid = _replay(query_conn, rt, snap, entry, allowed, **kw)
        assert not ok
        assert _audit(query_conn, qid) == [] and _metrics(query_conn, qid) == 0
    finally:
        if change == "policy":
            store_policy_text(query_conn, tmp_path, POLICY)
        if change == "withdrawn":
            query_conn.execute("UPDATE chunks SET stale_since = NULL")


def test_with_a_provider_configured_the_loop_serves_the_threaded_paths_answer(
    rt: Runtime, query_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop works out the answerer's and the plan's key parts once; with a provider
    key and the LLM reranker configured they must still equal the threaded path's, or every
    cached answer would miss here (and pay a worker thread) for nothing. (``rt``: the
    module's documents and stored policy.)"""
    from netdocs.query.api import run_ask
    from tests.stubs.provider_server import ProviderStub
    from tests.stubs.retrieval import by_text, retrieval_reply

    question = "where do the vpn gateway keys live"
    with ProviderStub() as stub:
        stub.set_reply(retrieval_reply(rerank=by_text({"portal": 5}), answer="The portal [1]."))
        monkeypatch.setenv("ANTHROPIC_API_KEY", "k-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.anthropic_base_url)
        settings = Settings(
            policy=None,
            embedding_provider="hashing",
            llm_provider="anthropic",
            rerank="llm",
            query_cache_ttl="24h",
            serve_token_cache_s=600,
        )
        runtime = Runtime(settings, query_db)
        try:
            headers = _token(runtime, HD)
            with runtime.connection() as conn:
                first = run_ask(runtime.service(conn, HD), question, k=3).to_json()
            calls = stub.count("messages")
            assert first["cache_hit"] is False and calls >= 2  # the rerank and the answer

            async def work(ca: CachedAnswers) -> list[dict[str, Any] | None]:
                return [await ca.ask(headers, None, question, 3, None, False) for _ in range(3)]

            outs = _loop(runtime, work)
            assert stub.count("messages") == calls  # served without the provider
        finally:
            runtime.close()
    for out in outs:
        assert out is not None and out["cache_hit"] is True, out
        assert out["answer"] == first["answer"]
