"""The recorded-answer stub for eval (``python -m tests.stubs.replay``): a real server
process replaying recorded rerank / rewrite replies to netdocs' real SDK calls."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.api import run_search
from netdocs.query.service import SearchService
from tests.conftest import REPO
from tests.query.test_rerank import DOCS

RECORDING = {
    "rerank": {
        "How do I add a BGP peer?": {
            "faq/general.md": 8,
            "routing/bgp.md#BGP > Reflector": 10,
            "routing/bgp.md": 1,
        }
    },
    "rewrite": {
        "throttle guest VM bandwidth toward vswitch": {
            "queries": ["ingress policing", "limit ingress traffic"],
            "passage": "Set ingress_policing_rate on the interface.",
        }
    },
}


@pytest.fixture(scope="module")
def replay(add_doc: Callable[..., None], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for doc_id, tags, sections in DOCS:
        add_doc(doc_id, tags, sections)
    path = tmp_path_factory.mktemp("replay") / "recorded.json"
    path.write_text(json.dumps(RECORDING))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.stubs.replay", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def search(
    conn: psycopg.Connection, url: str, question: str, **kw: object
) -> tuple[list[str], list[str]]:
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        embedding_provider="hashing",
        query_cache_ttl=0,
        llm_provider="anthropic",
        ANTHROPIC_API_KEY="stub",
        ANTHROPIC_BASE_URL=url,
        **kw,  # type: ignore[arg-type]
    )
    svc = SearchService(None, settings=s, conn=conn, embedder=HashingEmbedder())
    result = run_search(svc, question, 3)
    return [f"{h.path}#{h.heading}" for h in result.hits], result.notes


def test_replays_recorded_scores(query_conn: psycopg.Connection, replay: str) -> None:
    order, notes = search(query_conn, replay, "how do I add a BGP peer", rerank="llm")
    assert order[:2] == ["routing/bgp.md#BGP > Reflector", "faq/general.md#FAQ > Peers"]
    assert notes[0].startswith("rerank: llm anthropic/")
    _, notes = search(query_conn, replay, "a question nobody recorded", rerank="llm")
    assert notes[0].startswith("rerank: fallback (")


def test_replays_recorded_rewrites(query_conn: psycopg.Connection, replay: str) -> None:
    question = "throttle guest VM bandwidth toward vswitch"
    order, notes = search(query_conn, replay, question, query_rewrite="llm")
    assert notes == ["rewrite: llm anthropic/claude-haiku-4-5 (+3 queries)"]
    assert "switching/ovs.md#OVS > Policing" in order
