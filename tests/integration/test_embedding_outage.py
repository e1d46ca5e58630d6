"""Embedding outage with the circuit breaker (real OpenAI SDK against the local stub):
once the breaker opens the remaining batches are not attempted, the run reports them as
pending and exits 1, nothing is marked done, and the run after the cool-down indexes them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from netdocs.db import connection
from tests.stubs.provider_server import ProviderStub

pytest_plugins = ["tests.stubs.fixtures"]
pytestmark = pytest.mark.usefixtures("prefect_harness")

PENDING = "embedding provider unavailable (circuit open): pending"
COOLDOWN = 5.0  # wide enough that a loaded machine cannot half-open the breaker mid-run


@pytest.fixture
def openai_env(provider_stub: ProviderStub, monkeypatch: pytest.MonkeyPatch) -> ProviderStub:
    from netdocs.config import get_settings
    from netdocs.embedding import factory
    from netdocs.resilience import reset_breakers

    reset_breakers()  # process-wide breakers of earlier tests (e.g. a chat provider's)
    for key, value in {
        "NETDOCS_EMBEDDING_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-outage",
        "OPENAI_BASE_URL": provider_stub.openai_base_url,
        "NETDOCS_DOCS_PER_COMMIT_BATCH": "4",
        "NETDOCS_EMBED_MAX_ATTEMPTS": "1",
        "NETDOCS_PROVIDER_BREAKER_THRESHOLD": "2",
        "NETDOCS_PROVIDER_BREAKER_COOLDOWN_S": str(COOLDOWN),
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    factory._instances.clear()
    yield provider_stub
    factory._instances.clear()
    get_settings.cache_clear()


def _set_cooldown(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    from netdocs.config import get_settings

    monkeypatch.setenv("NETDOCS_PROVIDER_BREAKER_COOLDOWN_S", str(seconds))
    get_settings.cache_clear()  # the embedder is rebuilt; the process-wide breaker stays


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    from netdocs.cli import main

    capsys.readouterr()
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_open_breaker_stops_ingest_and_next_run_indexes_pending(
    docs_dir: Path,
    db_url: str,
    openai_env: ProviderStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = openai_env
    ids = {p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.md")}
    assert len(ids) > 12  # several batches of 4

    stub.script("500", "500", route="embeddings")  # two failed batches open the breaker
    code, down = _cli(capsys, "ingest", str(docs_dir))
    assert code == 1
    failed = {f["path"]: f["error"] for f in down["failed"]}  # type: ignore[union-attr]
    assert set(failed) == ids and down["committed"] == 0
    assert stub.count("embeddings") == 2  # the remaining batches were not attempted
    embedding_failed = [p for p, e in failed.items() if e.startswith("embedding failed")]
    pending = [p for p, e in failed.items() if e == PENDING]
    assert len(embedding_failed) == 8 and len(pending) == len(ids) - 8
    assert any("pending; the next run picks them up" in m for m in down["messages"])  # type: ignore[union-attr]
    with connection(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    code, status = _cli(capsys, "status")
    assert code == 0 and status["breakers"] == {"openai-embeddings": "open"}

    _set_cooldown(monkeypatch, 600.0)  # a run inside the cool-down: nothing is attempted
    code, again = _cli(capsys, "ingest", str(docs_dir))
    assert code == 1 and stub.count("embeddings") == 2
    assert {f["error"] for f in again["failed"]} == {PENDING}  # type: ignore[union-attr]

    _set_cooldown(monkeypatch, COOLDOWN)
    time.sleep(COOLDOWN + 0.1)  # half-open: the next batch is the probe; it succeeds
    code, up = _cli(capsys, "ingest", str(docs_dir))
    committed = int(up["committed"])  # type: ignore[call-overload]
    if code != 0:
        # One probe at a time, by design: a batch that asked while the probe was out (the
        # embed lanes run in parallel) is deferred as pending, never failed; the probe's
        # success closed the breaker, so the next run takes the rest.
        assert code == 1 and {f["error"] for f in up["failed"]} == {PENDING}, up["failed"]  # type: ignore[union-attr]
        assert stub.count("embeddings") > 2  # the probe went out and succeeded
        code, rest = _cli(capsys, "ingest", str(docs_dir))
        assert code == 0, rest["failed"]
        committed += int(rest["committed"])  # type: ignore[call-overload]
    else:
        assert up["new"] == len(ids)
    assert committed == len(ids)
    with connection(db_url) as conn:
        docs = conn.execute("SELECT count(*) FROM documents").fetchone()
        bad = conn.execute(
            "SELECT count(*) FROM documents d WHERE chunk_count <>"
            " (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id)"
        ).fetchone()
    assert docs == (len(ids),) and bad == (0,)
    code, status = _cli(capsys, "status")
    assert status["breakers"] == {"openai-embeddings": "closed"}


def test_a_new_process_respects_an_open_breaker_recorded_in_the_database(
    docs_dir: Path,
    db_url: str,
    openai_env: ProviderStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netdocs.embedding import factory
    from netdocs.resilience import reset_breakers

    openai_env.script("500", "500", route="embeddings")
    code, _ = _cli(capsys, "ingest", str(docs_dir))
    assert code == 1 and openai_env.count("embeddings") == 2
    reset_breakers()  # as if the next run were a new process
    factory._instances.clear()
    _set_cooldown(monkeypatch, 600.0)
    code, again = _cli(capsys, "ingest", str(docs_dir))
    assert code == 1 and openai_env.count("embeddings") == 2  # restored open: not called
    assert {f["error"] for f in again["failed"]} == {PENDING}  # type: ignore[union-attr]
    reset_breakers()
