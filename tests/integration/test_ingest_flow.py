"""The ingest flow on real PostgreSQL + Prefect (test harness), with the hashing embedder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection
from netdocs.errors import MassDeleteRefused
from netdocs.store.status import status

from ..conftest import TAGS, remove_most, use_db

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run(path: Path, **kw: Any) -> dict[str, Any]:
    from flows.ingest import ingest

    return ingest(path=str(path), **kw)


def chunk_ids(url: str) -> dict[str, str]:
    with connection(url) as conn:
        return dict(conn.execute("SELECT chunk_id, doc_id FROM chunks").fetchall())


def fp(url: str) -> str:
    with connection(url) as conn:
        return str(status(conn)["index_fingerprint"])


def test_second_run_embeds_nothing(docs_dir: Path, db_url: str) -> None:
    first = run(docs_dir)
    assert first["new"] == first["scanned"] > 30 and not first["failed"]
    assert first["chunks_embedded"] > 100
    second = run(docs_dir)
    assert second["unchanged"] == second["scanned"] == first["scanned"]
    assert second["chunks_embedded"] == 0 and second["new"] == second["changed"] == 0


def test_edit_add_delete_converge_to_clean_ingest(
    docs_dir: Path, db_url: str, make_db: Callable[[], str]
) -> None:
    run(docs_dir)
    before = chunk_ids(db_url)
    target = docs_dir / "routing/bird/architecture.md"
    text = target.read_text()
    paragraph = next(p for p in text.split("\n\n") if len(p.split()) > 30 and not p.startswith("#"))
    target.write_text(text.replace(paragraph, paragraph + " Edited sentence.", 1))
    edited = run(docs_dir)
    after = chunk_ids(db_url)
    new_ids = set(after) - set(before)
    assert edited["changed"] == 1 and edited["unchanged"] == edited["scanned"] - 1
    assert 1 <= len(new_ids) <= 2 and edited["chunks_embedded"] == len(new_ids)
    assert {after[c] for c in new_ids} == {"routing/bird/architecture.md"}

    (docs_dir / "routing/bird/new-runbook.md").write_text(
        "# Adding a BGP peer\n\nAdd a `protocol bgp` block with `neighbor 192.0.2.1 as 65001;`.\n"
    )
    added = run(docs_dir)
    assert added["new"] == 1 and added["chunks_embedded"] == 1

    victim = "ipv6/radvd/radvd-conf.md"
    victim_chunks = {c for c, d in chunk_ids(db_url).items() if d == victim}
    assert victim_chunks
    (docs_dir / victim).unlink()
    deleted = run(docs_dir)
    assert deleted["deleted"] == 1 and deleted["chunks_deleted"] == len(victim_chunks)
    assert not victim_chunks & set(chunk_ids(db_url))

    incremental = fp(db_url)
    use_db(make_db())
    clean = run(docs_dir)
    assert clean["chunks_embedded"] > 0
    assert fp(os_url()) == incremental


def os_url() -> str:
    import os

    return os.environ["NETDOCS_DATABASE_URL"]


def test_tag_change_updates_rows_without_embedding(
    docs_dir: Path, db_url: str, tmp_path: Path
) -> None:
    import yaml

    run(docs_dir, policy=str(TAGS))
    policy = yaml.safe_load(TAGS.read_text())
    policy["rules"].insert(0, {"glob": "switching/lldpd/lldpd.md", "tags": ["faq"]})
    changed_policy = tmp_path / "tags.yaml"
    changed_policy.write_text(yaml.safe_dump(policy))
    result = run(docs_dir, policy=str(changed_policy))
    assert result["metadata_only"] == 1 and result["chunks_embedded"] == 0
    assert result["unchanged"] == result["scanned"] - 1
    with connection(db_url) as conn:
        tags = conn.execute(
            "SELECT DISTINCT tags FROM chunks WHERE doc_id = 'switching/lldpd/lldpd.md'"
        ).fetchall()
        doc_tags = conn.execute(
            "SELECT tags FROM documents WHERE doc_id = 'switching/lldpd/lldpd.md'"
        ).fetchall()
    assert tags == doc_tags == [(["faq"],)]


def test_bad_files_fail_alone(few_docs: Path, db_url: str) -> None:
    (few_docs / "binary.md").write_bytes(b"\x7fELF\x00\x00\x01")
    (few_docs / "latin1.md").write_bytes("r\xe9seau".encode("latin-1"))
    (few_docs / "empty.md").write_text("")
    result = run(few_docs)
    failed = {f["path"]: f["error"] for f in result["failed"]}
    assert set(failed) == {"binary.md", "latin1.md"}
    assert result["new"] == result["scanned"] - 2  # an empty file is a document without text
    with connection(db_url) as conn:
        n = conn.execute("SELECT count(*) FROM documents").fetchone()
        empty = conn.execute(
            "SELECT chunk_count FROM documents WHERE doc_id = 'empty.md'"
        ).fetchone()
    assert n is not None and n[0] == result["new"]
    assert empty == (0,)


def test_mass_delete_is_refused_unless_allowed(few_docs: Path, db_url: str) -> None:
    run(few_docs)
    before = fp(db_url)
    removed = remove_most(few_docs)
    with pytest.raises(MassDeleteRefused, match="--allow-mass-delete"):
        run(few_docs)
    assert fp(db_url) == before
    result = run(few_docs, allow_mass_delete=True)
    assert result["deleted"] == len(removed)
    assert not set(chunk_ids(db_url).values()) & removed


def test_changing_the_model_is_refused_without_reembed_then_rebuilt(
    docs_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netdocs.config import get_settings
    from netdocs.embedding import factory
    from netdocs.embedding.hashing import HashingEmbedder
    from netdocs.errors import ModelChangeRefused

    (docs_dir / "emptied.md").write_text("---\ntags: [faq]\n---\n")  # a zero-chunk version
    first = run(docs_dir)
    before = fp(db_url)
    monkeypatch.setattr(factory, "_build", lambda settings, purpose: HashingEmbedder(dim=256))
    factory._instances.clear()
    get_settings.cache_clear()
    with pytest.raises(ModelChangeRefused, match="--reembed"):
        run(docs_dir)
    assert fp(db_url) == before  # nothing changed
    second = run(docs_dir, reembed=True)
    factory._instances.clear()
    assert second["rebuild"]["status"] == "completed" and not second["failed"]
    assert second["chunks_embedded"] == first["chunks_embedded"]
    assert second["committed"] == first["new"]
    with connection(db_url) as conn:
        assert status(conn)["embedding_model"] == "hashing/bow@256"
        dims = conn.execute("SELECT DISTINCT vector_dims(embedding) FROM chunks").fetchall()
        emptied = conn.execute("SELECT 1 FROM documents WHERE doc_id = 'emptied.md'").fetchall()
    assert dims == [(256,)] and emptied == [(1,)]
