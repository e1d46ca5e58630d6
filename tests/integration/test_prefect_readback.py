"""After a CLI ingest, read the run back from the Prefect server: the flow run's final
state and parameters, its task runs, and the Markdown summary artifact with the run's
counts; a refused run (mass delete) is a Failed flow run with no summary artifact."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import copy_corpus, remove_most
from .conftest import run_cli
from .prefect_read import artifacts, flow_runs_for, task_runs

STAGES = {
    "start-database",
    "prepare-index",
    "record-run",
    "scan-and-diff",
    "guard-deletes",
    "read-and-chunk",
    "embed",
    "validate-and-commit",
    "delete-documents",
}


def test_cli_ingest_is_read_back_from_the_prefect_server(
    tmp_path: Path, cli_env: dict[str, str], prefect_api: str
) -> None:
    docs = copy_corpus(tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd")
    result = run_cli(cli_env, "ingest", str(docs), "--json")
    assert result.code == 0, result.stderr
    summary = result.json()

    (run,) = flow_runs_for(prefect_api, str(docs))
    assert run["state"]["type"] == "COMPLETED" and run["state"]["name"] == "Completed"
    assert run["parameters"]["path"] == str(docs)
    tasks = task_runs(prefect_api, run["id"])
    names = {re.sub(r"-[0-9a-f]{3}$", "", t["name"]) for t in tasks}
    assert names >= STAGES, STAGES - names
    assert {t["state"]["type"] for t in tasks} == {"COMPLETED"}

    (artifact,) = artifacts(prefect_api, run["id"])
    assert artifact["key"] == "ingest-summary" and artifact["type"] == "markdown"
    table = dict(re.findall(r"^\| ([a-z ()]+) \| ([\d.]+) \|$", artifact["data"], flags=re.M))
    assert summary["run_id"] in artifact["data"]
    for key in ("scanned", "new", "chunks_embedded", "chunks_reused", "deleted"):
        assert int(table[key.replace("_", " ")]) == summary[key], key
    assert summary["new"] == len(list(docs.rglob("*.md"))) and summary["chunks_embedded"] > 0

    remove_most(docs)  # the next run is refused: a Failed flow run, no summary
    assert run_cli(cli_env, "ingest", str(docs), "--json").code == 1
    first, refused = flow_runs_for(prefect_api, str(docs))
    assert first["id"] == run["id"] and refused["state"]["type"] == "FAILED"
    assert "--allow-mass-delete" in refused["state"]["message"]
    assert [a for a in artifacts(prefect_api, refused["id"]) if a["key"] == "ingest-summary"] == []
