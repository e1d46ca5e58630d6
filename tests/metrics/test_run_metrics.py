"""Ingest run metrics: embedding tokens, savings and (for a paid provider) cost, checked
against the stored chunks; `netdocs runs --json`; the run's Markdown artifact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from prefect.artifacts import Artifact

from tests.conftest import REPO
from tests.stubs.provider_server import ProviderStub

pytest_plugins = ["tests.stubs.fixtures"]
pytestmark = pytest.mark.usefixtures("prefect_harness")


def _token_sums(url: str) -> tuple[int, int]:
    """(tokens of the distinct chunk texts, tokens of all chunks) in the index."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT sum(t) FROM (SELECT DISTINCT text_hash, token_count AS t"
            " FROM chunks) d), sum(token_count) FROM chunks"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_tokens_and_savings_of_two_runs(few_docs: Path, db_url: str) -> None:
    from flows.ingest import ingest

    docs_dir = few_docs

    some = sorted(docs_dir.rglob("*.md"))[0]  # a copy: the same chunk texts, embedded once
    shutil.copy(some, docs_dir / "copy-of-a-doc.md")
    first = ingest(path=str(docs_dir))
    assert not first["failed"] and first["chunks_embedded"] > 0
    distinct, total = _token_sums(db_url)
    assert first["embedding_tokens"] == distinct
    assert first["saved_tokens"] == first["cache_saved_tokens"] == total - distinct > 0
    assert first["embedding_model"].startswith("hashing")
    assert first["embedding_cost_usd"] is None  # the hashing embedder is not paid

    second = ingest(path=str(docs_dir), full=True)  # everything reused, nothing embedded
    assert second["embedding_tokens"] == 0 and second["reused_tokens"] == total
    assert second["saved_tokens"] == total

    md = Artifact.get("ingest-summary")
    assert md is not None and md.data is not None
    assert f"| tokens saved by reusing stored chunks | {total} |" in str(md.data)
    assert "| tokens embedded | 0 |" in str(md.data)

    res = subprocess.run(
        [sys.executable, "-m", "netdocs.cli", "runs", "--json"],
        env={**os.environ},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    runs = json.loads(res.stdout)
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]
    assert runs[1]["documents"]["new"] == first["new"] > 0
    assert runs[0]["documents"]["unchanged"] == second["unchanged"]
    assert runs[1]["embedding_tokens"] == distinct and runs[0]["saved_tokens"] == total
    assert runs[1]["chunks_embedded"] == first["chunks_embedded"]
    assert set(runs[1]["stages_s"]) >= {"scan_and_diff_s", "read_and_chunk_s"}
    with psycopg.connect(db_url) as conn:  # the typed view over the runs table
        view = conn.execute(
            "SELECT embedding_tokens, saved_tokens FROM ingest_run_metrics WHERE run_id = %s",
            (first["run_id"],),
        ).fetchone()
    assert view == (distinct, total - distinct)


def test_paid_provider_cost(
    few_docs: Path, db_url: str, provider_stub: ProviderStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.embedding import factory

    monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", provider_stub.openai_base_url)
    monkeypatch.setenv("NETDOCS_EMBEDDING_PRICES_PER_MTOK", '{"text-embedding-3": 1.5}')
    get_settings.cache_clear()
    factory._instances.clear()
    some = sorted(few_docs.rglob("*.md"))[0]  # a copy: some tokens are saved, not paid
    shutil.copy(some, few_docs / "copy-of-a-doc.md")
    try:
        run = ingest(path=str(few_docs))
    finally:
        factory._instances.clear()
    distinct, total = _token_sums(db_url)
    assert total > distinct
    endpoint = urlsplit(provider_stub.openai_base_url)  # the id names a non-OpenAI endpoint
    assert run["embedding_model"] == (
        f"openai/text-embedding-3-small@1536+{endpoint.hostname}:{endpoint.port}"
    )
    assert run["embedding_tokens"] == distinct
    assert run["embedding_cost_usd"] == pytest.approx(distinct * 1.5 / 1e6)
    assert run["saved_cost_usd"] == pytest.approx((total - distinct) * 1.5 / 1e6)


def test_cached_embed_counts_tokens_sent_and_saved(db_url: str) -> None:
    from netdocs.db import connection
    from netdocs.embedding.cache import cached_embed
    from netdocs.embedding.hashing import HashingEmbedder
    from netdocs.store.schema import migrate

    migrate(db_url)
    emb = HashingEmbedder()
    with connection(db_url) as conn:
        _, first = cached_embed(
            conn, emb, ["a b", "c d", "a b"], ["h1", "h2", "h1"], tokens=[4, 6, 4]
        )
        assert (first.embedded_tokens, first.saved_tokens) == (10, 4)  # the repeat: once
        _, second = cached_embed(conn, emb, ["c d", "e f"], ["h2", "h3"], tokens=[6, 9])
        assert (second.embedded_tokens, second.saved_tokens) == (9, 6)  # h2 from the cache
