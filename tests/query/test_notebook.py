"""The example notebook, executed top to bottom by a real Jupyter kernel (nbclient +
ipykernel), and its outputs checked: ingest counts, cited paths, the helpdesk cell."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any

from tests import policy_oracle as oracle

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "query.ipynb"
SAMPLE_FILES = sorted(
    p.relative_to(REPO / "examples" / "sample-docs").as_posix()
    for p in (REPO / "examples" / "sample-docs").rglob("*.md")
)


def execute(path: Path, env: dict[str, str]) -> Any:
    """Run the notebook in a fresh ``python3`` kernel started with ``env``; return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={})
    client.resources = {"metadata": {"path": str(REPO)}}
    client.execute(cwd=str(REPO), env=env)  # passed on to the kernel process
    return nb


def outputs(cell: Any) -> tuple[str, str]:
    """(stdout text, text/plain of the execute_result) of one executed cell."""
    out = "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")
    result = [o["data"]["text/plain"] for o in cell.outputs if o["output_type"] == "execute_result"]
    return out, result[0] if result else ""


def test_example_notebook_runs_in_a_kernel_and_shows_cited_sources(
    prefect_harness: None, query_db: str
) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "OPENAI"))}
    env.pop("NETDOCS_POLICY", None)
    env.pop("NETDOCS_ROLE", None)
    env.update(
        NETDOCS_DATABASE_URL=query_db,
        NETDOCS_EMBEDDING_PROVIDER="hashing",
        NETDOCS_LLM_PROVIDER="none",
        PREFECT_API_URL=str(PREFECT_API_URL.value()),  # the session's test server
        PYTHONPATH=str(REPO),
    )
    nb = execute(NOTEBOOK, env)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o["output_type"] == "error"]
    assert errors == []

    _, counts = outputs(code[1])  # the ingest cell
    summary = ast.literal_eval(counts)
    assert summary["scanned"] == summary["new"] == len(SAMPLE_FILES) == 43
    assert summary["chunks_embedded"] > 0

    printed, meta = outputs(code[3])  # the citations of the route-reflector question
    cited = re.findall(r"^\[(\d+)\] (\S+) — ", printed, flags=re.M)
    assert [int(n) for n, _ in cited] == list(range(1, len(cited) + 1)) and cited
    assert "routing/frr/bgp/route-reflector.md" in {p for _, p in cited}
    policy = oracle.load(REPO / "examples" / "tags.yaml")
    for _, p in cited:
        assert p in SAMPLE_FILES
        assert oracle.sees(policy, "network_engineer", oracle.tags_of(policy, p))
    assert ast.literal_eval(meta)["mode"] == "fallback"

    helpdesk_out, _ = outputs(code[4])  # the helpdesk cell
    seen = ast.literal_eval(helpdesk_out.strip())
    assert seen, "the helpdesk saw nothing"
    assert all(oracle.sees(policy, "helpdesk", oracle.tags_of(policy, p)) for p in seen), seen

    answers, _ = outputs(code[5])  # three questions at once
    firsts = re.findall(r"-> (\w+), first source: (\S+)", answers)
    assert len(firsts) == 3 and all(mode == "fallback" for mode, _ in firsts)
    assert firsts[0][1].startswith("time-sync/chrony/")
