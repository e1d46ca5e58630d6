"""`netdocs cache stats` against figures computed from raw rows, and `netdocs cache clear`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netdocs.cli import main
from netdocs.config import get_settings
from netdocs.db import connection
from tests.stubs.provider_server import ProviderStub

from .cache_corpus import sample_index

pytestmark = pytest.mark.usefixtures("prefect_harness")

Q1 = "How do I generate WireGuard keys and configure a peer?"
Q2 = "nftables NAT rule"
SONNET_PRICE = (3.0, 15.0)  # USD per million input / output tokens, claude-sonnet-4-5


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_stats_match_raw_rows_and_clear(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, policy = sample_index(tmp_path)
    role = ["--role", "security_engineer", "--policy", str(policy), "--json"]
    with ProviderStub(reply="Generate keys with wg genkey [1].") as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "k-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.anthropic_base_url)
        get_settings.cache_clear()
        asks = [cli(capsys, "ask", q, *role) for q in (Q1, Q1, Q1.upper(), Q2, Q2)]
        assert stub.count("messages") == 2  # the model ran for the two misses only
    assert [a["cache_hit"] for a in asks] == [False, True, True, False, True]
    assert asks[0]["model"] == "claude-sonnet-4-5" and asks[0]["tokens"]["input"] > 0
    assert asks[1]["tokens"] == {"input": 0, "output": 0} and asks[1]["answer"] == asks[0]["answer"]
    searches = [cli(capsys, "search", Q1, *role) for _ in range(2)]  # same text: vector cached
    assert [s["cache_hit"] for s in searches] == [False, True]

    stats = cli(capsys, "cache", "stats", "--json")
    with connection(db_url) as conn:
        entries = conn.execute(
            "SELECT model, input_tokens, output_tokens, hit_count, pg_column_size(q.*)"
            " FROM query_cache q"
        ).fetchall()
        audit = conn.execute("SELECT cache_hit FROM audit_log").fetchall()
        emb = conn.execute("SELECT hit_count, pg_column_size(e.*) FROM query_embedding_cache e")
        emb_rows = emb.fetchall()
        runs = [r[0] for r in conn.execute("SELECT stats FROM runs WHERE stats IS NOT NULL")]
        chunk_cache = conn.execute("SELECT count(*) FROM embedding_cache").fetchone()

    query = stats["query"]
    assert query["entries"] == len(entries) == 3  # Q1 ask, Q2 ask, Q1 search
    assert query["bytes"] == sum(r[4] for r in entries)
    assert query["hits"] == sum(r[3] for r in entries) == sum(1 for (h,) in audit if h) == 4
    assert query["misses"] == sum(1 for (h,) in audit if not h) == 3
    assert query["hit_rate"] == pytest.approx(4 / 7)
    saved = sum(
        hits * (tin * SONNET_PRICE[0] + tout * SONNET_PRICE[1]) / 1e6
        for model, tin, tout, hits, _ in entries
        if model
    )
    assert saved > 0 and stats["saved_usd"] == pytest.approx(saved, abs=1e-6)

    embedding = stats["query_embedding"]
    assert embedding["entries"] == len(emb_rows) == 2  # Q1 and Q1.upper() share; Q2
    # misses: Q1, Q2 embedded; hits: the search of Q1 (result-cache miss, vector cached)
    assert (embedding["hits"], embedding["misses"]) == (sum(r[0] for r in emb_rows), 2) == (1, 2)
    assert embedding["bytes"] == sum(r[1] for r in emb_rows)

    chunk = stats["chunk_embedding"]
    assert chunk_cache is not None and chunk["entries"] == chunk_cache[0]
    assert chunk["hits"] == sum(r["embedding_cache_hits"] for r in runs)
    assert chunk["misses"] == sum(r["chunks_embedded"] for r in runs) > 0

    assert cli(capsys, "cache", "clear", "--kind", "query", "--older-than", "7d", "--json") == {
        "deleted": {"query": 0}
    }
    assert cli(capsys, "cache", "clear", "--kind", "query", "--json") == {"deleted": {"query": 3}}
    after = cli(capsys, "cache", "stats", "--json")
    assert after["query"]["entries"] == 0 and after["query_embedding"]["entries"] == 2
    assert cli(capsys, "cache", "clear", "--json") == {"deleted": {"query": 0, "embedding": 2}}
    assert main(["cache", "clear", "--older-than", "soon"]) == 2
