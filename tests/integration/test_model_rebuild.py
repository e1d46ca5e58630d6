"""A model change is a rebuild, not a wipe (real PostgreSQL, Prefect harness, the real
OpenAI SDK against the local stub): the served generation keeps answering until the new
one is complete, a failed rebuild is continued by the next run, the mass-delete guard
applies, and the finished rebuild equals a clean ingest with the new model."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from netdocs.db import connection
from netdocs.store import generation
from netdocs.store.status import status
from tests.conftest import REPO, SAMPLE, use_db
from tests.stubs.provider_server import ProviderStub

pytest_plugins = ["tests.stubs.fixtures"]
pytestmark = pytest.mark.usefixtures("prefect_harness")

HASHING = "hashing/bow@384"
OPENAI_MODEL = "openai/text-embedding-3-small@1536"


def _openai_id(base_url: str) -> str:
    """The model id of an OpenAI-compatible endpoint: the model, then its host and port
    (a local stub is not api.openai.com, so its vectors never share a cache entry)."""
    parts = urlsplit(base_url)
    return f"{OPENAI_MODEL}+{parts.hostname}:{parts.port}"


QUESTION = "how do I configure a BGP neighbor"
COOLDOWN = 1.0


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The bundled sample (43 files) in tmp_path."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "docs"))


def _use_openai(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    from netdocs.config import get_settings
    from netdocs.embedding import factory

    for key, value in {
        "NETDOCS_EMBEDDING_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-rebuild",
        "OPENAI_BASE_URL": base_url,
        "NETDOCS_DOCS_PER_COMMIT_BATCH": "4",
        "NETDOCS_EMBED_MAX_ATTEMPTS": "1",
        "NETDOCS_PROVIDER_BREAKER_THRESHOLD": "2",
        "NETDOCS_PROVIDER_BREAKER_COOLDOWN_S": str(COOLDOWN),
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    factory._instances.clear()


@pytest.fixture(autouse=True)
def _fresh_breakers() -> None:
    from netdocs.embedding import factory
    from netdocs.resilience import reset_breakers

    reset_breakers()
    factory._instances.clear()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    from netdocs.cli import main

    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else {}), out.err


def _served(url: str) -> tuple[int, str, object, list[tuple[int]]]:
    with connection(url) as conn:
        st = status(conn)
        dims = conn.execute("SELECT DISTINCT vector_dims(embedding) FROM chunks").fetchall()
    return st["chunks"], st["index_fingerprint"], st["embedding_model"], dims


def _search() -> list[tuple[str, str, float]]:
    from netdocs.query.service import SearchService

    with SearchService(None) as service:
        return [(h.path, h.chunk_id, round(h.score, 6)) for h in service.search(QUESTION, k=5)]


@pytest.mark.parametrize("outage", ["unreachable", "stub-500"])
def test_model_change_with_provider_down_keeps_the_index_serving(
    outage: str,
    sample: Path,
    db_url: str,
    provider_stub: ProviderStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, first, _ = _cli(capsys, "ingest", str(sample))
    assert code == 0 and first["chunks_embedded"] > 100
    before = _served(db_url)
    assert before[2] == HASHING and before[3] == [(384,)]
    hits = _search()
    assert hits

    if outage == "unreachable":
        base = f"http://127.0.0.1:{provider_stub.port}/v1"
        provider_stub.stop()  # nothing listens there any more
    else:
        base = provider_stub.openai_base_url
        provider_stub.script(*["500"] * 50, route="embeddings")
    _use_openai(monkeypatch, base)

    code, _, err = _cli(capsys, "ingest", str(sample))  # a model change needs --reembed
    assert code == 2 and "--reembed" in err and HASHING in err
    assert _served(db_url) == before

    code, down, _ = _cli(capsys, "ingest", str(sample), "--reembed")
    assert code == 1
    assert down["rebuild"]["status"] == "pending"  # type: ignore[index]
    assert down["rebuild"]["to"] == _openai_id(base) and down["failed"]  # type: ignore[index]
    assert any("keeps serving" in m for m in down["messages"])  # type: ignore[union-attr]
    assert _served(db_url) == before  # every chunk, same vectors' model, same content
    code, st, _ = _cli(capsys, "status")
    assert st["embedding_model"] == HASHING and st["embedding_rebuild_pending"] == _openai_id(base)
    assert _search() == hits  # questions embedded with the served (hashing) model

    code, again, _ = _cli(capsys, "ingest", str(sample))  # the pending rebuild continues
    assert code == 1 and again["rebuild"]["status"] == "pending"  # type: ignore[index]
    assert _served(db_url) == before


def test_failed_rebuild_is_continued_and_equals_a_clean_ingest(
    sample: Path,
    db_url: str,
    make_db: Callable[[], str],
    provider_stub: ProviderStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, _ = _cli(capsys, "ingest", str(sample))
    assert code == 0
    before = _served(db_url)
    hits = _search()
    _use_openai(monkeypatch, provider_stub.openai_base_url)

    # The mass-delete guard applies to a rebuild as to any run.
    monkeypatch.setenv("NETDOCS_MASS_DELETE_RATIO", "0.05")
    shutil.move(sample / "routing", sample.parent / "routing")
    code, _, err = _cli(capsys, "ingest", str(sample), "--reembed")
    assert code == 1 and "--allow-mass-delete" in err
    assert _served(db_url) == before and provider_stub.count("embeddings") == 0
    shutil.move(sample.parent / "routing", sample / "routing")
    monkeypatch.delenv("NETDOCS_MASS_DELETE_RATIO")

    # Three batches embedded, then the provider fails: the old generation keeps serving.
    provider_stub.script("ok", "ok", "ok", "500", "500", route="embeddings")
    code, down, _ = _cli(capsys, "ingest", str(sample), "--reembed")
    assert code == 1 and down["rebuild"]["status"] == "pending"  # type: ignore[index]
    assert down["chunks_embedded"] > 0
    assert _served(db_url) == before and _search() == hits

    time.sleep(COOLDOWN + 0.1)  # the breaker half-opens; no --reembed: the rebuild is pending
    code, up, _ = _cli(capsys, "ingest", str(sample))
    assert code == 0, up["failed"]
    assert up["rebuild"]["status"] == "completed"  # type: ignore[index]
    assert up["embedding_cache_hits"] >= down["chunks_embedded"]  # resumed from the cache
    rebuilt = _served(db_url)
    assert rebuilt[2] == _openai_id(provider_stub.openai_base_url) and rebuilt[3] == [(1536,)]
    code, st, _ = _cli(capsys, "status")
    assert st["embedding_rebuild_pending"] is None
    with connection(db_url) as conn:
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'chunks_embedding_hnsw_%'"
        ).fetchall()
    assert len(index) == 1 and "vector(1536)" in index[0][0]
    assert _search()  # questions now embedded with the new model (via the stub)

    clean = make_db()
    use_db(clean)
    code, _, _ = _cli(capsys, "ingest", str(sample))
    assert code == 0
    assert _served(clean)[:2] == rebuilt[:2]  # same chunks, same content fingerprint


def test_a_rebuild_killed_mid_way_leaves_the_old_generation_serving(
    sample: Path,
    db_url: str,
    cli_env: dict[str, str],
    provider_stub: ProviderStub,
) -> None:
    """SIGKILL the CLI while the provider holds its fourth embedding request."""
    from tests.integration.conftest import run_cli

    assert run_cli(cli_env, "ingest", str(sample), "--json").code == 0
    before = _served(db_url)
    env = {
        **cli_env,
        "NETDOCS_EMBEDDING_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-rebuild",
        "OPENAI_BASE_URL": provider_stub.openai_base_url,
        "NETDOCS_DOCS_PER_COMMIT_BATCH": "4",
    }
    provider_stub.script("ok", "ok", "ok", "slow:120", route="embeddings")
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "ingest", str(sample), "--reembed", "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while provider_stub.count("embeddings") < 4 and proc.poll() is None:
            assert time.monotonic() < deadline, "the rebuild never reached the provider"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert provider_stub.count("embeddings") == 4  # killed mid-way, not finished
    assert _served(db_url) == before  # the old generation serves, untouched
    with connection(db_url) as conn:
        assert generation.pending_model(conn) == (_openai_id(provider_stub.openai_base_url), 1536)
        cached = conn.execute(
            "SELECT count(*) FROM embedding_cache WHERE model_id = %s",
            (_openai_id(provider_stub.openai_base_url),),
        ).fetchone()
    assert cached is not None and cached[0] > 0

    provider_stub.reset()
    done = run_cli(env, "ingest", str(sample), "--json")  # no --reembed: it is pending
    assert done.code == 0, done.stderr
    result = done.json()
    assert result["rebuild"]["status"] == "completed"
    assert result["embedding_cache_hits"] >= cached[0]
    assert _served(db_url)[2:] == (_openai_id(provider_stub.openai_base_url), [(1536,)])
