"""prefect.yaml on a real Prefect server: `prefect --no-prompt deploy --all` registers the
deployments with their schedules and concurrency limit, a `process` worker runs an ingest
started by `netdocs ingest --deployment`, the run is read back Completed with its Markdown
summary, and a second run started while the first runs waits for the concurrency slot."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from netdocs.store.schema import _LOCK_KEY

from ..conftest import REPO, SAMPLE_TAGS, copy_corpus
from .conftest import run_cli
from .prefect_read import artifacts

pytestmark = pytest.mark.slow  # ~1 min: a deploy, a worker and two flow-run processes


def _api(api: str, method: str, path: str, body: Any = None) -> Any:
    for _ in range(10):  # a busy server's SQLite answers 503 for a moment
        response = httpx.request(method, f"{api}{path}", json=body, timeout=30)
        if response.status_code != 503:
            break
        time.sleep(1)
    response.raise_for_status()
    return response.json() if response.content else None


def _wait(what: str, probe: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _states(api: str, run_id: str) -> list[str]:
    states = _api(api, "GET", f"/flow_run_states/?flow_run_id={run_id}")
    return [s["name"] for s in sorted(states, key=lambda s: s["timestamp"])]


def _state(api: str, run_id: str) -> str:
    return str(_api(api, "GET", f"/flow_runs/{run_id}")["state"]["name"])


def _create_pool(api: str) -> None:
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    body = {"name": "netdocs", "type": "process", "base_job_template": template}
    response = httpx.post(f"{api}/work_pools/", json=body, timeout=30)
    assert response.status_code in (201, 409), response.text  # = prefect work-pool create


def test_deploy_run_on_a_worker_and_concurrency_limit(
    tmp_path: Path, prefect_api: str, db_url: str
) -> None:
    docs = copy_corpus(tmp_path / "docs", "vpn", "dns")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "NETDOCS_DATABASE_URL": db_url,
        "NETDOCS_DOCS_DIR": str(docs),
        "NETDOCS_POLICY": str(SAMPLE_TAGS),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    _create_pool(prefect_api)
    deploy = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    found = _api(prefect_api, "POST", "/deployments/filter", {"limit": 50})
    deployments = {d["name"]: d for d in found}
    assert {"ingest-hourly", "reconcile-daily", "metrics-report-daily"} <= set(deployments)
    ingest = deployments["ingest-hourly"]
    assert [s["schedule"]["cron"] for s in ingest["schedules"]] == ["7 * * * *"]
    assert ingest["schedules"][0]["active"]
    assert ingest["global_concurrency_limit"]["limit"] == 1
    assert ingest["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert ingest["parameters"]["path"] == str(docs)
    assert ingest["parameters"]["policy"] == str(SAMPLE_TAGS)  # from the env, not null
    for name in ("reconcile-daily", "metrics-report-daily"):
        assert deployments[name]["schedules"] and deployments[name]["global_concurrency_limit"]
    # Pausing deletes the scheduled runs: only the runs this test starts reach the worker.
    for d in deployments.values():
        _api(prefect_api, "POST", f"/deployments/{d['id']}/pause_deployment")

    # The first run blocks on the schema-migration lock until the test lets it go.
    holder = psycopg.connect(db_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "netdocs"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    second: str | None = None
    try:
        started = run_cli(env, "ingest", "--deployment", "--full", "--json")
        assert started.code == 0, started.stderr
        first = started.json()["flow_run_id"]
        run = _api(prefect_api, "GET", f"/flow_runs/{first}")
        assert run["parameters"]["full"] is True and run["parameters"]["path"] == str(docs)
        _wait("the first run to be Running", lambda: _state(prefect_api, first) == "Running")
        second = _api(prefect_api, "POST", f"/deployments/{ingest['id']}/create_flow_run", {})["id"]
        _wait(
            "the second run to wait for the concurrency slot",
            lambda: "AwaitingConcurrencySlot" in _states(prefect_api, second),
        )
        assert _state(prefect_api, first) == "Running"
        assert "Running" not in _states(prefect_api, second)  # held while the first runs
        holder.close()

        _wait(
            "the first run to end",
            lambda: (
                _api(prefect_api, "GET", f"/flow_runs/{first}")["state"]["type"]
                in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
            ),
        )
        assert _state(prefect_api, first) == "Completed", (tmp_path / "worker.log").read_text()
        (artifact,) = [a for a in artifacts(prefect_api, first) if a["key"] == "ingest-summary"]
        assert artifact["type"] == "markdown"
        table = dict(re.findall(r"^\| ([a-z ()]+) \| ([\d.]+) \|$", artifact["data"], flags=re.M))
        files = len(list(docs.rglob("*.md")))
        assert int(table["scanned"]) == files and int(table["new"]) == files
        with psycopg.connect(db_url) as conn:
            (count,) = conn.execute("SELECT count(*) FROM documents").fetchone() or (0,)
            policy = conn.execute("SELECT source FROM index_policy").fetchone()
        assert count == files
        assert policy is not None and policy[0] == str(SAMPLE_TAGS)  # the deployment's policy
    finally:
        holder.close()
        if second is not None:
            _api(
                prefect_api,
                "POST",
                f"/flow_runs/{second}/set_state",
                {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
            )
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    assert "only" not in run["parameters"]  # no --only given: the parameter is not sent
