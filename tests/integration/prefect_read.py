"""Read runs back from a Prefect server's REST API (flow runs, task runs, states, artifacts)."""

from __future__ import annotations

from typing import Any

import httpx


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def flow_runs_for(api: str, docs: str) -> list[dict[str, Any]]:
    """Every `ingest` flow run whose `path` parameter is ``docs``, oldest first."""
    runs = _post(api, "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_ASC", "limit": 200})
    return [r for r in runs if (r.get("parameters") or {}).get("path") == docs]


def task_runs(api: str, flow_run_id: str) -> list[dict[str, Any]]:
    """The task runs of one flow run."""
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200}
    return list(_post(api, "/task_runs/filter", body))


def task_run_states(api: str, task_run_id: str) -> list[str]:
    """The state names a task run went through, in order."""
    response = httpx.get(f"{api}/task_run_states/", params={"task_run_id": task_run_id})
    response.raise_for_status()
    states = sorted(response.json(), key=lambda s: s["timestamp"])
    return [s["name"] for s in states]


def artifacts(api: str, flow_run_id: str) -> list[dict[str, Any]]:
    """The artifacts a flow run created."""
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    return list(_post(api, "/artifacts/filter", body))
