"""The question is embedded beside the full-text query (netdocs.query.pending), on real
PostgreSQL: the overlap itself, the question-embedding cache, and the error paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import psycopg
import pytest

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.errors import ConfigError
from netdocs.query import search as search_mod
from netdocs.query.api import run_search
from netdocs.query.pending import PendingVector
from netdocs.query.service import SearchService

WAIT_S = 10.0


@pytest.fixture(scope="module", autouse=True)
def corpus(add_doc: Callable[..., None]) -> None:
    add_doc("routing/bgp.md", ["routing"], [("BGP", "Add a BGP neighbor with remote-as 65001.")])
    add_doc("vpn/wg.md", ["vpn"], [("WireGuard", "Generate the key pair with wg genkey.")])


class GatedEmbedder(HashingEmbedder):
    """The hashing embedder, but a question waits until the full-text query has started,
    and records the thread it ran on: sequential embedding would wait in vain."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.threads: list[int] = []
        self.waited: list[bool] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.append(threading.get_ident())
        self.waited.append(self.gate.wait(WAIT_S))
        return super().embed(texts)


@pytest.fixture
def fulltext_started(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when the full-text query starts."""
    started = threading.Event()
    real = search_mod.fulltext_hits

    def spy(*args: object, **kwargs: object) -> object:
        started.set()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search_mod, "fulltext_hits", spy)
    return started


def service(conn: psycopg.Connection, embedder: HashingEmbedder) -> SearchService:
    return SearchService(None, settings=Settings(llm_provider="none"), conn=conn, embedder=embedder)


def test_a_fused_search_embeds_the_question_while_the_fulltext_query_runs(
    query_conn: psycopg.Connection, fulltext_started: threading.Event
) -> None:
    gated = GatedEmbedder(fulltext_started)
    timings: dict[str, float] = {}
    hits = service(query_conn, gated).search("add a BGP neighbor", k=2, timings=timings)
    assert gated.waited == [True], "the embedding waited for a full-text query that never began"
    assert gated.threads[0] != threading.get_ident()
    assert hits[0].path == "routing/bgp.md"
    # the same hits as with a vector computed first (the order of work changes, not results)
    vector = np.asarray(HashingEmbedder().embed(["add a BGP neighbor"])[0], dtype=np.float32)
    again = service(query_conn, HashingEmbedder()).search("add a BGP neighbor", 2, vector=vector)
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in again]
    assert timings["embed_ms"] > 0 and timings["fulltext_ms"] > 0 and timings["dense_ms"] > 0


def test_the_question_vector_is_cached_by_the_connections_thread(
    query_conn: psycopg.Connection, fulltext_started: threading.Event
) -> None:
    question = "generate a wireguard key pair"
    gated = GatedEmbedder(fulltext_started)
    first = run_search(service(query_conn, gated), question, k=2)
    assert gated.waited == [True]
    (stored,) = query_conn.execute(
        "SELECT count(*) FROM query_embedding_cache WHERE model_id = %s", (gated.model_id,)
    ).fetchone()
    assert stored >= 1
    # a second search with another k misses the result cache but hits the vector cache:
    # the question is not embedded again
    second = run_search(service(query_conn, gated), question, k=1)
    assert len(gated.threads) == 1
    assert second.hits[0].chunk_id == first.hits[0].chunk_id


def test_an_embedding_error_reaches_the_caller(query_conn: psycopg.Connection) -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise ConfigError("NETDOCS_EMBEDDING_PROVIDER: the model is gone")

    with pytest.raises(ConfigError, match="the model is gone"):
        service(query_conn, Broken()).search("add a BGP neighbor", k=2)


def test_a_failed_fulltext_query_waits_for_the_embedding(
    query_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()
    done = threading.Event()

    class Slow(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            started.set()
            release.wait(WAIT_S)
            done.set()
            return super().embed(texts)

    def broken(*args: object, **kwargs: object) -> object:
        threading.Timer(0.2, release.set).start()
        raise psycopg.OperationalError("the server closed the connection")

    monkeypatch.setattr(search_mod, "fulltext_hits", broken)
    with pytest.raises(psycopg.OperationalError):
        service(query_conn, Slow()).search("add a BGP neighbor", k=2)
    at_return = (started.is_set(), done.is_set())
    time.sleep(0.5)  # past the release: an embedding starting late would show now
    # Finished, or cancelled before its worker picked it up (the full-text query can fail
    # first): never still running, and never starting after the search returned.
    assert at_return in ((True, True), (False, False)), "the search returned mid-embedding"
    assert started.is_set() == at_return[0], "an embedding started after the search returned"


def test_pending_vector_finishes_once_in_the_callers_thread() -> None:
    calls: list[int] = []
    timings: dict[str, float] = {}
    finished: list[list[float]] = []

    def slow_embedding() -> np.ndarray:
        time.sleep(0.05)
        return np.ones(3, dtype=np.float32)

    def finish(v: np.ndarray) -> None:
        calls.append(threading.get_ident())
        finished.append(v.tolist())

    pending = PendingVector(slow_embedding, finish=finish, timings=timings)
    assert pending.get().tolist() == [1.0, 1.0, 1.0]
    assert pending.get().tolist() == [1.0, 1.0, 1.0]
    assert calls == [threading.get_ident()] and finished == [[1.0, 1.0, 1.0]]
    assert timings["embed_ms"] >= 50  # the embedding's own time, measured


def test_pending_vector_settle_swallows_the_embedding_error() -> None:
    started = threading.Event()

    def boom() -> np.ndarray:
        started.set()
        raise RuntimeError("no model")

    pending = PendingVector(boom)
    assert started.wait(WAIT_S)
    pending.settle()  # no raise: the search's own error is the one reported
    with pytest.raises(RuntimeError, match="no model"):
        pending.get()  # whoever still asks gets the embedding's error


def test_a_forked_child_gets_its_own_embedding_threads() -> None:
    import os

    assert PendingVector(lambda: np.zeros(2, dtype=np.float32)).get().tolist() == [0.0, 0.0]
    pid = os.fork()
    if pid == 0:  # the child: the parent's pool has no threads here; a search must not hang
        code = 1
        try:
            pending = PendingVector(lambda: np.ones(2, dtype=np.float32))
            done = threading.Event()
            threading.Thread(target=lambda: (pending.get(), done.set()), daemon=True).start()
            code = 0 if done.wait(WAIT_S) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
