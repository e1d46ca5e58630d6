"""A change of chunking rules reaches an existing index: the next ingest re-chunks every
document (netdocs.ingest.chunker_state), re-embedding only chunk texts it has not seen."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from netdocs.chunking import CHUNKER_VERSION

from ..conftest import SAMPLE_TAGS, copy_corpus


def stored_ids(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT chunk_id FROM chunks")}


def expected_ids(docs: Path, limit: int) -> set[str]:
    """The chunk ids the rules give for the files, computed here from the files."""
    from netdocs.chunking import chunk_document
    from netdocs.embedding.hashing import HashingEmbedder

    emb = HashingEmbedder()
    out = set()
    for path in docs.rglob("*.md"):
        doc_id = path.relative_to(docs).as_posix()
        text = path.read_text(encoding="utf-8")
        out |= {c.chunk_id for c in chunk_document(doc_id, text, emb.count_tokens, limit)}
    return out


def test_other_chunking_rules_rechunk_the_index_once(
    tmp_path: Path, db_url: str, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings

    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    n = len(list(docs.rglob("*.md")))
    first = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert first["new"] == n and not first["failed"]
    assert stored_ids(db_url) == expected_ids(docs, 200)

    # An index chunked by older rules (same boundaries here): every document is re-chunked,
    # nothing is embedded again, every chunk id is kept.
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE index_meta SET value = 'v1/max200' WHERE key = 'chunker'")
    second = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert second["changed"] == n and second["chunks_embedded"] == 0, second
    changed = f"chunking rules changed (v1/max200 -> v{CHUNKER_VERSION}/max200)"
    assert any(changed in m for m in second["messages"])
    assert stored_ids(db_url) == expected_ids(docs, 200)

    # Another size limit moves boundaries: re-chunked to the new ones, then recorded.
    monkeypatch.setenv("NETDOCS_CHUNK_MAX_TOKENS", "120")
    get_settings.cache_clear()
    third = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert third["changed"] == n and third["chunks_embedded"] > 0
    assert stored_ids(db_url) == expected_ids(docs, 120) != expected_ids(docs, 200)
    fourth = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert fourth["unchanged"] == n and fourth["changed"] == 0


def test_an_empty_index_records_the_rules_when_it_starts_filling(
    tmp_path: Path, db_url: str
) -> None:
    """Recorded at planning, not only after a clean run: else a first run with one pending
    or failed document made the next run re-chunk (and re-commit) every document."""
    from netdocs.ingest import chunker_state
    from netdocs.ingest.plan import make_plan
    from netdocs.store.schema import migrate

    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    migrate(db_url)
    with psycopg.connect(db_url) as conn:
        plan = make_plan(
            conn, docs, None, include=["**/*.md"], exclude=[], max_bytes=10**6, chunker="v9/max99"
        )
        conn.commit()
        assert plan.rechunk is None and chunker_state.recorded(conn) == "v9/max99"


def test_a_document_unreadable_during_a_rechunk_is_rechunked_once_readable(
    tmp_path: Path, db_url: str, prefect_harness: None
) -> None:
    """A document unreadable during the re-chunking run keeps its old chunks. The new rules
    are recorded (the others need no second re-chunk), and that document is marked, so the
    first run that reads it again re-chunks it even though its content is as indexed."""
    from flows.ingest import ingest
    from netdocs.ingest import chunker_state

    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    n = len(list(docs.rglob("*.md")))
    assert not ingest(path=str(docs), policy=str(SAMPLE_TAGS))["failed"]
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE index_meta SET value = 'v1/max200' WHERE key = 'chunker'")
    victim = sorted(docs.rglob("*.md"))[0]
    victim_id = victim.relative_to(docs).as_posix()
    good = victim.read_bytes()
    victim.write_bytes(good + b"caf\xe9\n")  # invalid UTF-8: a scan failure, old version kept
    second = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert [f["path"] for f in second["failed"]] == [victim_id]
    assert second["changed"] == n - 1
    current = f"v{CHUNKER_VERSION}/max200"
    with psycopg.connect(db_url) as conn:
        assert chunker_state.recorded(conn) == current

    victim.write_bytes(good)  # readable again, content as indexed: still re-chunked
    third = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert third["changed"] == 1 and third["unchanged"] == n - 1 and not third["failed"], third
    fourth = ingest(path=str(docs), policy=str(SAMPLE_TAGS))
    assert fourth["unchanged"] == n and fourth["changed"] == 0
    with psycopg.connect(db_url) as conn:
        assert chunker_state.recorded(conn) == current
