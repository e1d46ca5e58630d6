"""A database password never leaves the process: not on stdout/stderr, not in Prefect's
flow/task run states, logs, events or artifacts, not in Prefect's result storage.

Each test plants a unique password in NETDOCS_DATABASE_URL, runs the CLI in subprocesses
against the session's real Prefect server, then reads everything back through the API
and the result-storage folder and searches it for the password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from netdocs.devserver import free_port

from ..conftest import SAMPLE
from .conftest import CliResult, run_cli


def _planted() -> str:
    return f"Pw{uuid.uuid4().hex[:16]}Zq"


async def _server_text(api: str, since: datetime) -> str:
    """Every flow run, task run, log, artifact and event the server holds since ``since``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.events.filters import EventFilter, EventOccurredFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    parts: list[str] = []
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            runs = [r for r in await client.read_flow_runs(limit=200) if r.created >= since]
            ids = [r.id for r in runs]
            parts += [r.model_dump_json() for r in runs]
            parts += [
                s.model_dump_json() for r in runs for s in await client.read_flow_run_states(r.id)
            ]
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200
            )
            parts += [t.model_dump_json() for t in tasks]
            for t in tasks:
                parts += [s.model_dump_json() for s in await client.read_task_run_states(t.id)]
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
            parts += [log.model_dump_json() for log in logs]
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
            )
            parts += [a.model_dump_json() for a in artifacts]
            page = await client.read_events(
                EventFilter(occurred=EventOccurredFilter(since=since)), limit=50
            )
            while True:
                parts += [e.model_dump_json() for e in page.events]
                if not page.next_page:
                    break
                page = await client.read_events_page(page.next_page)
    return "\n".join(parts)


def _storage_text(folder: Path) -> tuple[int, str]:
    """(number of files, their text) under ``folder``; base64 payloads decoded too."""
    texts: list[str] = []
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    for path in files:
        raw = path.read_bytes()
        texts.append(raw.decode("utf-8", "replace"))
        # Results are pickles, base64-encoded, alone or inside a JSON record.
        for token in re.findall(rb"[A-Za-z0-9+/=\n]{12,}", raw):
            with contextlib.suppress(binascii.Error, ValueError):
                texts.append(base64.b64decode(token.replace(b"\n", b"")).decode("latin-1"))
    return len(files), "\n".join(texts)


def _scan(
    env: dict[str, str], api: str, since: datetime, results: list[CliResult], secret: str
) -> tuple[str, int]:
    """Assert ``secret`` is nowhere; return the server's text and the stored result count."""
    for r in results:
        assert secret not in r.stdout and secret not in r.stderr, (r.stdout, r.stderr)
    server = _wait_for_events(api, since)
    assert secret not in server
    count = 0
    for folder in (Path(env["PREFECT_HOME"]), Path(env["PREFECT_LOCAL_STORAGE_PATH"])):
        n, text = _storage_text(folder)
        count += n
        assert secret not in text
    return server, count


def _wait_for_events(api: str, since: datetime) -> str:
    """The server's text once the final flow-run event has been stored (events lag)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        text = asyncio.run(_server_text(api, since))
        done = '"prefect.flow-run.Failed"' in text or '"prefect.flow-run.Completed"' in text
        if done or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def _env(cli_env: dict[str, str], tmp_path: Path, url: str) -> dict[str, str]:
    return {
        **cli_env,
        "NETDOCS_DATABASE_URL": url,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        # The strictest settings: every flow and task result is written to storage.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "true",
    }


def _run_all(env: dict[str, str], docs: Path, *extra: str) -> list[CliResult]:
    return [
        run_cli(env, *extra, "ingest", str(docs), "--json"),
        run_cli(env, *extra, "search", "bgp neighbour", "--json"),
        run_cli(env, *extra, "status", "--json"),
    ]


@pytest.mark.parametrize("verbose", [False, True])
def test_invalid_escape_in_password_is_never_echoed(
    cli_env: dict[str, str], prefect_api: str, tmp_path: Path, verbose: bool
) -> None:
    secret = _planted()
    env = _env(cli_env, tmp_path, f"postgresql://netdocs:{secret}%ZZ@db.invalid/netdocs")
    since = datetime.now(UTC)
    results = _run_all(env, SAMPLE, *(["-v"] if verbose else []))
    server, stored = _scan(env, prefect_api, since, results, secret)
    for r in results:
        assert r.code == 2, r.stderr
        assert verbose or "Traceback" not in r.stderr, r.stderr  # -v: Prefect's own logs
        assert "NETDOCS_DATABASE_URL is not a valid" in r.stderr
        assert "postgresql://netdocs:***@db.invalid/netdocs" in r.stderr
    assert "NETDOCS_DATABASE_URL is not a valid" in server  # the scan saw the failed states
    assert stored > 0  # the failure was persisted, and scanned


def test_unreachable_server_password_is_never_echoed(
    cli_env: dict[str, str], prefect_api: str, tmp_path: Path
) -> None:
    secret = _planted()
    url = f"postgresql://netdocs:{secret}@127.0.0.1:{free_port()}/netdocs"
    env = _env(cli_env, tmp_path, url)
    since = datetime.now(UTC)
    results = _run_all(env, SAMPLE, "-v")
    server, stored = _scan(env, prefect_api, since, results, secret)
    for r in results:
        assert r.code == 3, r.stderr
        assert "cannot connect to" in r.stderr and "password=***" in r.stderr
    assert "password=***" in server and stored > 0


def test_successful_run_with_a_password_never_echoes_it(
    cli_env: dict[str, str], prefect_api: str, tmp_path: Path, db_url: str
) -> None:
    """The session server trusts local connections: a planted password is accepted (and
    ignored), so the URL travels through every task of a complete run."""
    secret = _planted()
    info: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(db_url)
    info["password"] = secret
    url = psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})
    env = _env(cli_env, tmp_path, url)
    since = datetime.now(UTC)
    results = _run_all(env, SAMPLE, "-v")
    server, stored = _scan(env, prefect_api, since, results, secret)
    assert [r.code for r in results] == [0, 0, 0], results[0].stderr[-2000:]
    assert results[0].json()["new"] == 43 and results[1].json()["results"]
    assert '"prefect.flow-run.Completed"' in server and stored > 0
