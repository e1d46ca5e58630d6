"""Bad input through the whole ingest flow: a 50 MB file, and files vanishing or changing
between the scan and their processing (or during the scan itself)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection
from netdocs.store.status import fingerprint

from ..conftest import use_db
from .test_crash import consistency_problems

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _indexed(url: str) -> dict[str, str]:
    with connection(url) as conn:
        rows = conn.execute("SELECT doc_id, content_hash FROM documents").fetchall()
    return {str(d): str(h) for d, h in rows}


def _clean_fingerprint(make_db: Callable[[], str], docs: Path) -> str:
    """A fresh ingest of the folder as it is now, into a new database."""
    from flows.ingest import ingest

    url = make_db()
    use_db(url)
    result = ingest(path=str(docs))
    assert not result["failed"] or all("larger" in f["error"] for f in result["failed"])
    with connection(url) as conn:
        return fingerprint(conn)


def test_50mb_file_fails_by_name_and_the_rest_is_indexed(
    docs_dir: Path, db_url: str, make_db: Callable[[], str]
) -> None:
    from flows.ingest import ingest

    first = ingest(path=str(docs_dir))
    assert not first["failed"]
    before = _indexed(db_url)

    big = docs_dir / "routing" / "huge.md"
    with big.open("w") as fh:  # 50 MB of real text (default limit: 5 MB)
        line = "BGP neighbor 192.0.2.1 remote-as 65001 and route maps. " * 20 + "\n"
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(line * 100)
    grown = docs_dir / "ipv6" / "radvd" / "grown.md"
    grown.write_text("# Grown\n\nsmall for now\n")
    second = ingest(path=str(docs_dir))
    assert [f["path"] for f in second["failed"]] == ["routing/huge.md"]
    assert second["new"] == 1 and second["committed"] == 1
    grown_hash = _indexed(db_url)["ipv6/radvd/grown.md"]

    with grown.open("a") as fh:  # an indexed file grows past the limit
        fh.write("x" * 6_000_000)
    third = ingest(path=str(docs_dir))
    failed = {f["path"]: f["error"] for f in third["failed"]}
    assert set(failed) == {"routing/huge.md", "ipv6/radvd/grown.md"}
    assert all("larger than the limit of 5000000 bytes" in e for e in failed.values())
    assert third["deleted"] == 0
    after = _indexed(db_url)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing lost
    assert after["ipv6/radvd/grown.md"] == grown_hash  # its previous version is kept
    assert "routing/huge.md" not in after
    assert consistency_problems(db_url) == []


def test_files_vanishing_or_changing_during_a_run(
    docs_dir: Path, db_url: str, make_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.ingest as t
    from flows.ingest import ingest
    from netdocs import sources

    assert not ingest(path=str(docs_dir))["failed"]
    ids = sorted(_indexed(db_url))
    changing, removed_late = docs_dir / ids[0], docs_dir / ids[1]
    changing.write_text("# Changing\n\nversion two, seen by the scan\n")
    newcomer = docs_dir / "newcomer.md"
    newcomer.write_text("# Newcomer\n\nhere for the scan only\n")
    vanishing_in_scan = docs_dir / "flash.md"
    vanishing_in_scan.write_text("# Flash\n\ngone before it is read\n")

    real_make_plan = t.make_plan
    real_read = sources.read_document

    def read_then_vanish(root: Path, doc_id: str, *args: Any) -> Any:
        if doc_id == "flash.md":
            vanishing_in_scan.unlink()  # listed by the walk, gone when read
        return real_read(root, doc_id, *args)

    def plan_then_disturb(*args: Any, **kwargs: Any) -> Any:
        plan = real_make_plan(*args, **kwargs)
        changing.write_text("# Changing\n\nversion three, written after the scan\n")
        newcomer.unlink()  # scanned as new, gone before its batch
        removed_late.unlink()  # scanned as unchanged, gone before the run ends
        return plan

    monkeypatch.setattr(sources, "read_document", read_then_vanish)
    monkeypatch.setattr(t, "make_plan", plan_then_disturb)
    run = ingest(path=str(docs_dir))
    monkeypatch.setattr(sources, "read_document", real_read)  # (undo() would also reset
    monkeypatch.setattr(t, "make_plan", real_make_plan)  # the fixtures' environment)
    assert not run["failed"]
    assert any("vanished during the scan" in m and "flash.md" in m for m in run["messages"])
    assert run["changed"] == 1 and run["new"] == 1 and run["deleted"] == 0
    indexed = _indexed(db_url)
    assert "flash.md" not in indexed and "newcomer.md" not in indexed
    assert ids[1] in indexed  # removed after the scan: deleted by the next run
    assert consistency_problems(db_url) == []
    with connection(db_url) as conn:
        text = conn.execute(
            "SELECT string_agg(text, ' ') FROM chunks WHERE doc_id = %s", (ids[0],)
        ).fetchone()
    assert text is not None and "version three" in text[0]  # committed what was embedded

    again = ingest(path=str(docs_dir))  # converges: the stored hash is the file's hash now
    assert not again["failed"] and again["changed"] == 0 and again["new"] == 0
    assert again["deleted"] == 1
    with connection(db_url) as conn:
        settled = fingerprint(conn)
    assert settled == _clean_fingerprint(make_db, docs_dir)
