"""Poison documents fail alone, on a copy of the bundled sample: a NUL byte in a heading past
the binary sniff, a file name that is not UTF-8, escape sequences aimed at the terminal."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection

from ..conftest import SAMPLE
from .conftest import run_cli

FILLER = "BGP neighbours exchange routes over TCP port 179 with their peers. " * 2 + "\n\n"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The bundled sample copied into the test's folder."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "docs"))


def _poison(path: Path) -> None:
    """A Markdown file whose NUL byte (in a heading) sits after the first 8 KB."""
    body = "# Poison\n\n" + FILLER * (9000 // len(FILLER) + 1)
    assert len(body.encode()) > 8192
    path.write_bytes((body + "## Bad\x00heading\n\nsome text under it\n").encode())


def _indexed(url: str) -> set[str]:
    with connection(url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT doc_id FROM documents").fetchall()}


def _runs(url: str) -> list[tuple[str, bool]]:
    with connection(url) as conn:
        rows = conn.execute("SELECT status, finished_at IS NOT NULL FROM runs").fetchall()
    return [(str(s), bool(f)) for s, f in rows]


@pytest.mark.usefixtures("prefect_harness")
def test_nul_heading_after_8kb_fails_alone_every_run(sample: Path, db_url: str) -> None:
    from flows.ingest import ingest

    assert ingest(path=str(sample))["failed"] == []
    _poison(sample / "routing" / "poison.md")
    (sample / "routing" / "fresh.md").write_text("# Fresh\n\na good new document\n")
    (sample / "dns" / "bind9" / "troubleshooting.md").unlink()

    for run, gone in ((1, "dns/bind9/troubleshooting.md"), (2, "vpn/wireguard/wg.md")):
        if run == 2:
            (sample / gone).unlink()
        result = ingest(path=str(sample))
        assert [f["path"] for f in result["failed"]] == ["routing/poison.md"], run
        assert "heading" in result["failed"][0]["error"]
        assert result["deleted"] == 1, run  # deletes after the batches still ran
        indexed = _indexed(db_url)
        assert gone not in indexed and "routing/fresh.md" in indexed
        assert "routing/poison.md" not in indexed
    assert _runs(db_url)[1:] == [("failed", True), ("failed", True)]


def test_a_commit_error_fails_only_its_document(sample: Path, db_url: str) -> None:
    """Without the gate (validator None), the database's own refusal is per document."""
    from uuid import uuid4

    from netdocs.config import get_settings
    from netdocs.embedding.factory import get_embedder
    from netdocs.ingest.batch import chunk_batch, commit_batch, embed_batch
    from netdocs.store.schema import ensure_model, migrate

    _poison(sample / "poison.md")
    embedder = get_embedder(get_settings())
    migrate(db_url)
    with connection(db_url) as conn:
        ensure_model(conn, embedder.model_id, embedder.dim)
        ids = ["poison.md", "routing/frr/bfd.md", "vpn/wireguard/wg.md"]
        batch = chunk_batch(
            conn, sample, ids, policy=None, embedder=embedder, max_tokens=200, max_bytes=10**6
        )
        batch = embed_batch(conn, batch, embedder=embedder)
        stats = commit_batch(conn, batch, embedder=embedder, validator=None, run_id=uuid4())
    assert [f.doc_id for f in stats.failed] == ["poison.md"]
    assert "NUL" in stats.failed[0].error or "0x00" in stats.failed[0].error
    assert stats.committed == 2
    assert _indexed(db_url) == {"routing/frr/bfd.md", "vpn/wireguard/wg.md"}


def test_non_utf8_file_name_is_reported_safely_and_json_is_printed(
    few_docs: Path, cli_env: dict[str, str], db_url: str
) -> None:
    sample = few_docs
    (sample / "routing").mkdir()
    name = os.fsencode(sample / "routing") + b"/bad\xff.md"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"# Bad name\n\nthe content is fine\n")
    os.close(fd)
    result = run_cli(cli_env, "ingest", str(sample), "--json")
    assert result.code == 1 and result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)  # exactly one JSON document
    assert result.stdout.strip().count("\n") == 0
    failed = {f["path"]: f["error"] for f in data["failed"]}
    assert failed == {"routing/bad\\xff.md": "file name is not valid UTF-8"}
    assert data["new"] == data["scanned"] - 1
    assert _runs(db_url) == [("failed", True)]
    assert not any("routing/bad" in d for d in _indexed(db_url))


def test_control_characters_never_reach_the_terminal(
    few_docs: Path, cli_env: dict[str, str], db_url: str
) -> None:
    sample = few_docs
    (sample / "routing").mkdir()
    red = "\x1b[31m"
    (sample / f"routing/red{red}alert.md").write_text("# Peering\n\nRed alert peering notes\n")
    ingested = run_cli(cli_env, "ingest", str(sample))
    assert ingested.code == 0, ingested.stderr
    assert "\x1b" not in ingested.stdout + ingested.stderr
    with connection(db_url) as conn:  # as an index written before headings were checked
        conn.execute(
            "UPDATE chunks SET heading = %s WHERE doc_id = %s",
            (f"Peering {red}in red", f"routing/red{red}alert.md"),
        )
        conn.commit()
    text = run_cli(cli_env, "search", "red alert peering notes", "--k", "3")
    assert text.code == 0, text.stderr
    assert "alert.md" in text.stdout and "in red" in text.stdout
    assert "\x1b" not in text.stdout
    data = run_cli(cli_env, "search", "red alert peering notes", "--k", "3", "--json").json()
    assert data["results"][0]["heading"] == f"Peering {red}in red"  # JSON keeps it, escaped
    asked = run_cli(cli_env, "ask", "red alert peering notes")
    assert asked.code == 0, asked.stderr
    assert "\x1b" not in asked.stdout
