"""Ingest through the real OpenAI SDK against the local stub: an embedding outage leaves the
documents pending (nothing marked done), and the next run indexes every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdocs.db import connection
from tests.stubs.provider_server import ProviderStub

pytest_plugins = ["tests.stubs.fixtures"]
pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "sk-test-NEVER-PRINT-ME-123"


def test_outage_then_recovery(
    docs_dir: Path, db_url: str, provider_stub: ProviderStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.embedding import factory

    monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", provider_stub.openai_base_url)
    get_settings.cache_clear()
    factory._instances.clear()

    provider_stub.script(*["500"] * 5, route="embeddings")  # every attempt of the first batch
    down = ingest(path=str(docs_dir))
    assert down["new"] > 30 and down["committed"] == 0
    assert {f["path"] for f in down["failed"]} == {p for p in _ids(docs_dir)}
    assert all("embedding failed" in f["error"] for f in down["failed"])
    assert SECRET not in str(down)
    with connection(db_url) as conn:
        n = conn.execute("SELECT count(*) FROM documents").fetchone()
    assert n == (0,)  # nothing marked done without vectors

    up = ingest(path=str(docs_dir))
    assert up["new"] == down["new"] and not up["failed"]
    assert up["chunks_embedded"] > 0
    with connection(db_url) as conn:
        model = conn.execute("SELECT value FROM index_meta WHERE key = 'embedding_model'")
        host = provider_stub.base_url.removeprefix("http://")
        assert model.fetchone() == (f"openai/text-embedding-3-small@1536+{host}",)
        dims = conn.execute("SELECT DISTINCT vector_dims(embedding) FROM chunks").fetchall()
    assert dims == [(1536,)]
    factory._instances.clear()


def _ids(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.md")}


def test_one_refused_input_fails_its_document_not_its_batch(
    docs_dir: Path, db_url: str, provider_stub: ProviderStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.embedding import factory
    from netdocs.resilience import reset_breakers

    refused = sorted(_ids(docs_dir))[5]
    with (docs_dir / refused).open("a") as fh:
        fh.write("\n\nThis paragraph trips the provider's content filter: XYZZY-REFUSED.\n")
    monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", provider_stub.openai_base_url)
    monkeypatch.setenv("NETDOCS_DOCS_PER_COMMIT_BATCH", "8")
    get_settings.cache_clear()
    factory._instances.clear()
    reset_breakers()
    provider_stub.refuse_input = "XYZZY-REFUSED"

    result = ingest(path=str(docs_dir))
    assert [f["path"] for f in result["failed"]] == [refused]
    error = result["failed"][0]["error"]
    assert "embedding failed" in error and "400 BadRequestError" in error
    assert result["committed"] == result["new"] - 1  # its batch's seven others went in
    with connection(db_url) as conn:
        indexed = {r[0] for r in conn.execute("SELECT doc_id FROM documents")}
    assert indexed == _ids(docs_dir) - {refused}

    provider_stub.refuse_input = None  # the filter is relaxed: the next run indexes it
    again = ingest(path=str(docs_dir))
    assert not again["failed"] and again["committed"] == 1
    factory._instances.clear()
