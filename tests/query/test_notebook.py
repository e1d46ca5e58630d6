"""The example notebook runs top to bottom (cells executed in order, no Jupyter needed)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from netdocs.config import get_settings

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "query.ipynb"


def run_notebook(path: Path) -> dict[str, Any]:
    """Execute every code cell in one namespace (top-level ``await`` allowed, as in Jupyter)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        code = compile(source, f"{path.name}[{i}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307 - our own notebook
        if inspect.iscoroutine(result):
            asyncio.run(result)
    return namespace


def test_example_notebook_ingests_asks_and_shows_sources(
    prefect_harness: None, query_db: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("NETDOCS_DATABASE_URL", query_db)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "NETDOCS_POLICY", "NETDOCS_ROLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(REPO)
    get_settings.cache_clear()
    try:
        ns = run_notebook(NOTEBOOK)
    finally:
        get_settings.cache_clear()
    assert ns["summary"]["scanned"] >= 40 and ns["summary"]["chunks_embedded"] > 0
    response = ns["response"]
    assert response.source_nodes and response.metadata["mode"] == "fallback"
    assert all(
        n.node.metadata["citation"] == i for i, n in enumerate(response.source_nodes, start=1)
    )
    assert len(ns["answers"]) == 3
    out = capsys.readouterr().out
    assert "[1] " in out and "Extractive fallback" in out
