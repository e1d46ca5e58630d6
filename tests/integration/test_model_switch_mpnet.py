"""Switching NETDOCS_LOCAL_MODEL from MiniLM to all-mpnet-base-v2 goes through the
rebuild-beside path (real CLI, real Prefect server, real PostgreSQL, both real models):
refused without --reembed with the index untouched, rebuilt and swapped with it, and the
new 768-d index answers. Skipped where the optional mpnet weight packages are absent (CI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netdocs.db import connection
from netdocs.embedding import mpnet_files
from netdocs.errors import ConfigError
from netdocs.store.schema import recorded_model
from tests.conftest import SAMPLE

from .conftest import run_cli

MINILM_ID = "local/all-MiniLM-L6-v2@onnx-fp32-v1"
MPNET_ID = "local/all-mpnet-base-v2@onnx-fp32-v1"


def _installed() -> bool:
    try:
        mpnet_files.part_paths()
    except ConfigError:
        return False
    return True


pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(
        not _installed(),
        reason="all-mpnet-base-v2 weight packages not installed (optional, 438 MB)",
    ),
]


def _model(db_url: str) -> tuple[str, int] | None:
    with connection(db_url) as conn:
        return recorded_model(conn)


def test_switch_to_mpnet_is_a_rebuild(cli_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "routing"
    docs.mkdir(parents=True)
    shutil.copy(SAMPLE / "routing" / "frr" / "bgp" / "route-reflector.md", docs)
    minilm = {**cli_env, "NETDOCS_EMBEDDING_PROVIDER": "local"}
    mpnet = {**minilm, "NETDOCS_LOCAL_MODEL": "all-mpnet-base-v2"}

    first = run_cli(minilm, "ingest", str(docs.parent), "--json")
    assert first.code == 0, first.stderr
    assert _model(db_url) == (MINILM_ID, 384)

    refused = run_cli(mpnet, "ingest", str(docs.parent), "--json")
    assert refused.code == 2, refused.stderr
    assert MINILM_ID in refused.stderr and MPNET_ID in refused.stderr
    assert _model(db_url) == (MINILM_ID, 384)

    rebuilt = run_cli(mpnet, "ingest", str(docs.parent), "--reembed", "--json")
    assert rebuilt.code == 0, rebuilt.stderr
    assert rebuilt.json()["rebuild"]["status"] == "completed"
    assert _model(db_url) == (MPNET_ID, 768)

    found = run_cli(mpnet, "search", "which routers reflect iBGP routes to their clients")
    assert found.code == 0, found.stderr
    assert "routing/route-reflector.md" in found.stdout
