"""`netdocs check [--repair]`: corrupt a real index with SQL, detect the drift, repair it,
and an ingest afterwards converges to the index before the corruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netdocs.db import connection
from netdocs.store.status import fingerprint

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    from netdocs.cli import main

    capsys.readouterr()
    code = main(["check", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_detects_and_repairs_drift(
    few_docs: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.ingest import ingest

    docs_dir = few_docs  # five documents of two or more chunks are enough
    first = ingest(path=str(docs_dir))
    assert not first["failed"]
    code, report = _check(capsys)
    assert code == 0 and report == {"clean": True, "drift": [], "repaired": [], "stale": []}
    with connection(db_url) as conn:
        expected = fingerprint(conn)
        docs = [
            r[0]
            for r in conn.execute(
                "SELECT doc_id FROM documents WHERE chunk_count >= 2 ORDER BY doc_id LIMIT 5"
            )
        ]
        a, b, c, d, e = docs
        dim = conn.execute("SELECT value FROM index_meta WHERE key = 'embedding_dim'").fetchone()
        assert dim is not None
        conn.commit()  # the corruption below runs in transactions of its own
        with conn.transaction():
            conn.execute(  # a: one chunk lost
                "DELETE FROM chunks WHERE chunk_id = (SELECT min(chunk_id) FROM chunks"
                " WHERE doc_id = %s)",
                (a,),
            )
            conn.execute("DELETE FROM chunks WHERE doc_id = %s", (b,))  # b: every chunk lost
            conn.execute("SET LOCAL session_replication_role = replica")  # no FK cascade
            conn.execute("DELETE FROM documents WHERE doc_id = %s", (c,))  # c: orphan chunks
        with conn.transaction():
            conn.execute(f"DROP INDEX chunks_embedding_hnsw_{int(dim[0])}")
            conn.execute(  # d: a vector of the wrong dimension
                "UPDATE chunks SET embedding = '[1,2,3]' WHERE chunk_id = (SELECT min(chunk_id)"
                " FROM chunks WHERE doc_id = %s)",
                (d,),
            )
            conn.execute(  # e: quarantined although indexed with this very content
                "INSERT INTO quarantine (doc_id, content_hash, meta_hash, reasons, run_id)"
                " SELECT doc_id, content_hash, meta_hash, '[]', run_id FROM documents"
                " WHERE doc_id = %s",
                (e,),
            )

    code, report = _check(capsys)
    assert code == 1 and report["clean"] is False and report["repaired"] == []
    found = {(x["kind"], x["doc_id"]) for x in report["drift"]}  # type: ignore[union-attr]
    assert found == {
        ("chunk_count_mismatch", a),
        ("document_without_chunks", b),
        ("orphan_chunks", c),
        ("wrong_dimension", d),
        ("missing_vector_index", None),
        ("stale_quarantine", e),
    }

    code, report = _check(capsys, "--repair")
    assert code == 0
    repaired = "\n".join(report["repaired"])  # type: ignore[arg-type]
    for doc_id in (a, b, d):
        assert f"{doc_id}: document row and" in repaired
    assert f"{c}: " in repaired and "orphan chunks deleted" in repaired
    assert f"{e}: stale quarantine row deleted" in repaired
    assert "rebuilt" in repaired
    code, report = _check(capsys)
    assert code == 0 and report["clean"] is True

    after = ingest(path=str(docs_dir))  # the repaired documents are re-processed
    assert not after["failed"] and after["new"] == 4  # a, b, c, d
    with connection(db_url) as conn:
        assert fingerprint(conn) == expected
    code, report = _check(capsys)
    assert code == 0 and report["clean"] is True


def test_check_text_output(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from netdocs.cli import main

    assert main(["check"]) == 0
    assert "index consistent" in capsys.readouterr().out
