"""Without PREFECT_API_URL (NETDOCS_PREFECT=local), the first CLI ingest starts a local Prefect
server under NETDOCS_HOME that outlives it; the second ingest reuses it (same process, same
port), both runs are read back from it afterwards, and `netdocs server stop` ends it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from netdocs.config import Settings
from netdocs.prefect_local import stop_server

from ..conftest import copy_corpus
from .conftest import run_cli
from .prefect_read import artifacts, flow_runs_for

pytestmark = pytest.mark.slow  # a new Prefect server's first start: 10 s quiet, 40 s busy


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return bool(re.search(r"^State:\s+Z", status, flags=re.M))


def test_second_cli_ingest_reuses_the_local_prefect_server(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    docs = copy_corpus(tmp_path / "docs", "vpn")
    env = {
        **os.environ,
        "NETDOCS_HOME": str(home),
        "NETDOCS_PREFECT": "local",
        "NETDOCS_DATABASE_URL": db_url,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PREFECT_UI_ENABLED": "false",  # inherited by the server: a faster start
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PREFECT_API_URL", None)
    state_file = home / "prefect" / "server.json"
    try:
        first = run_cli(env, "ingest", str(docs), "--json")
        assert first.code == 0, first.stderr
        assert "Prefect server started" in first.stderr
        state = json.loads(state_file.read_text())
        pid, api = state["pid"], f"http://127.0.0.1:{state['port']}/api"
        assert not _gone(pid)  # outlived the CLI that started it

        second = run_cli(env, "ingest", str(docs), "--json")
        assert second.code == 0, second.stderr
        assert "Prefect server started" not in second.stderr
        assert json.loads(state_file.read_text()) == state  # the same server, not a new one
        assert second.json()["unchanged"] == first.json()["new"] > 0

        runs = flow_runs_for(api, str(docs))
        assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"]
        (summary,) = [a for a in artifacts(api, runs[1]["id"]) if a["key"] == "ingest-summary"]
        assert second.json()["run_id"] in summary["data"]

        stopped = run_cli(env, "server", "stop")
        assert stopped.code == 0 and stopped.stdout.strip() == "stopped", stopped.stderr
        assert _gone(pid)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{api}/health", timeout=5)
    finally:
        stop_server(Settings(home=home))  # a failed assertion must not leave it running
