"""The CLI end to end in subprocesses, against a real Prefect server and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from ..conftest import SAMPLE_TAGS, remove_most
from .conftest import run_cli


def test_ingest_json_then_status(few_docs: Path, cli_env: dict[str, str]) -> None:
    docs_dir = few_docs
    n = len(list(docs_dir.rglob("*.md")))
    first = run_cli(cli_env, "ingest", str(docs_dir), "--policy", str(SAMPLE_TAGS), "--json")
    assert first.code == 0, first.stderr
    data = first.json()  # stdout is exactly one JSON object
    for key in (
        "run_id",
        "scanned",
        "new",
        "changed",
        "unchanged",
        "metadata_only",
        "deleted",
        "failed",
        "chunks_embedded",
        "chunks_reused",
        "chunks_deleted",
        "embedding_cache_hits",
        "duration_s",
    ):
        assert key in data
    assert data["new"] == data["scanned"] == n and data["failed"] == []

    status = run_cli(cli_env, "status", "--json")
    assert status.code == 0, status.stderr
    st = status.json()
    assert st["documents"] == n and st["chunks"] > 5 * n
    assert st["last_run_id"] == data["run_id"]
    assert st["embedding_model"] == "hashing/bow@384" and st["embedding_dim"] == 384

    rerun = run_cli(cli_env, "ingest", str(docs_dir), "--policy", str(SAMPLE_TAGS), "--json")
    again = rerun.json()
    assert again["unchanged"] == data["scanned"] and again["chunks_embedded"] == 0
    assert (
        run_cli(cli_env, "status", "--json").json()["index_fingerprint"] == st["index_fingerprint"]
    )


def test_bad_files_are_reported_and_exit_code_is_1(few_docs: Path, cli_env: dict[str, str]) -> None:
    (few_docs / "binary.md").write_bytes(bytes(range(256)))
    (few_docs / "latin1.md").write_bytes("pare-feu: r\xe8gle".encode("latin-1"))
    (few_docs / "empty.md").write_bytes(b"")
    result = run_cli(cli_env, "ingest", str(few_docs), "--json")
    assert result.code == 1, result.stderr
    data = result.json()
    failed = {f["path"]: f["error"] for f in data["failed"]}
    assert set(failed) == {"binary.md", "latin1.md"}  # empty.md: a document without text
    assert "binary" in failed["binary.md"] and "UTF-8" in failed["latin1.md"]
    assert data["new"] == data["scanned"] - 2  # every other file is indexed


def test_missing_folder_and_bad_policy_exit_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    missing = run_cli(cli_env, "ingest", str(tmp_path / "nope"))
    assert missing.code == 2 and "nope" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "policy.yaml"
    bad.write_text("roles:\n  helpdesk:\n    allow: faq\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("# a\n\ntext\n")
    result = run_cli(cli_env, "ingest", str(tmp_path / "d"), "--policy", str(bad))
    assert result.code == 2 and "roles.helpdesk.allow" in result.stderr


def test_mass_delete_refused_exit_1(few_docs: Path, cli_env: dict[str, str]) -> None:
    assert run_cli(cli_env, "ingest", str(few_docs), "--json").code == 0
    removed = remove_most(few_docs)
    refused = run_cli(cli_env, "ingest", str(few_docs), "--json")
    assert refused.code == 1 and "--allow-mass-delete" in refused.stderr
    allowed = run_cli(cli_env, "ingest", str(few_docs), "--json", "--allow-mass-delete")
    assert allowed.code == 0 and allowed.json()["deleted"] == len(removed)
