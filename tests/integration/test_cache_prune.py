"""``netdocs cache prune`` on real rows: after an edit the old text's cache entries go, the
entries stored chunks use stay (real PostgreSQL, ingest through real Prefect)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from netdocs.cli import main

from ..conftest import SAMPLE


def _hashes(url: str, sql: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(sql)}


def _chunk_hashes(url: str) -> set[str]:
    return _hashes(url, "SELECT text_hash FROM chunks")


def _cache_hashes(url: str) -> set[str]:
    return _hashes(url, "SELECT text_sha256 FROM embedding_cache")


def _prune(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["cache", "prune", "--json", *args]) == 0
    return dict(json.loads(capsys.readouterr().out))


@pytest.mark.usefixtures("prefect_harness")
def test_prune_drops_only_entries_no_chunk_uses(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.ingest import ingest

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE / "dns", docs)
    ingest(path=str(docs))
    before = _chunk_hashes(db_url)
    doc = sorted(docs.rglob("*.md"))[0]
    doc.write_text(doc.read_text() + "\n\n## Added\n\nA new paragraph about resolvers.\n")
    doc2 = sorted(docs.rglob("*.md"))[1]
    doc2.write_text("# Replaced\n\nThe whole document was rewritten today.\n")
    ingest(path=str(docs))
    after = _chunk_hashes(db_url)
    gone = before - after
    assert gone and _cache_hashes(db_url) >= before | after  # old texts still cached

    with psycopg.connect(db_url) as conn:  # one stale entry is old, the others are new
        old = sorted(gone)[0]
        conn.execute(
            "UPDATE embedding_cache SET created_at = now() - interval '10 days'"
            " WHERE text_sha256 = %s",
            (old,),
        )
    assert _prune(capsys, "--older-than", "7d")["deleted"] == 1
    assert old not in _cache_hashes(db_url) and _cache_hashes(db_url) >= after

    result = _prune(capsys)
    assert _cache_hashes(db_url) == after  # every used entry kept, every unused one gone
    assert result == {"deleted": len(gone) - 1, "kept": len(after), "older_than_s": None}
    assert _prune(capsys)["deleted"] == 0

    again = ingest(path=str(docs))  # nothing to re-embed: the cache still has every chunk
    assert again["chunks_embedded"] == 0 and again["unchanged"] == again["scanned"]


def test_prune_text_output_and_bad_age(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "prune"]) == 0
    assert "pruned 0 embedding-cache entries that no stored chunk uses; 0 kept" in (
        capsys.readouterr().out
    )
    with pytest.raises(SystemExit) as info:
        main(["cache", "prune", "--older-than", "a week"])
    assert info.value.code == 2 and "--older-than" in capsys.readouterr().err


def test_prune_waits_for_no_ingest(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from netdocs.ingest.lock import run_lock
    from netdocs.store.schema import migrate

    migrate(db_url)
    with run_lock(db_url):
        assert main(["cache", "prune"]) == 1
    assert "another ingest run is in progress" in capsys.readouterr().err
