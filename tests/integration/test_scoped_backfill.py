"""Path-scoped backfills (``ingest --only``): a scoped run changes nothing outside its
scope, applies edits and deletes inside it, counts the mass-delete share in the scope, and
leaves the stale marks of other documents alone. Real PostgreSQL, real Prefect harness."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from netdocs.db import connection
from netdocs.errors import ConfigError, MassDeleteRefused
from netdocs.store.status import fingerprint

from ..conftest import SAMPLE, SAMPLE_TAGS, use_db

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run(path: Path, **kw: Any) -> dict[str, Any]:
    from flows.ingest import ingest

    return ingest(path=str(path), policy=str(SAMPLE_TAGS), **kw)


def rows_outside(url: str, prefix: str) -> dict[str, list[str]]:
    """Every stored row (documents + chunks, with vectors) of documents outside ``prefix``."""
    out: dict[str, list[str]] = {}
    with connection(url) as conn:
        for table in ("documents", "chunks"):
            rows = conn.execute(
                f"SELECT t.doc_id, row_to_json(t)::text FROM {table} t"  # noqa: S608 (fixed)
                " WHERE NOT starts_with(t.doc_id, %s) ORDER BY 2",
                (prefix,),
            ).fetchall()
            for doc_id, row in rows:
                out.setdefault(doc_id, []).append(row)
    return out


def content_hashes(url: str) -> dict[str, str]:
    with connection(url) as conn:
        return dict(conn.execute("SELECT doc_id, content_hash FROM documents").fetchall())


def edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n\nA sentence added by the test.\n")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLE, tmp_path / "docs"))


def test_scoped_backfill_changes_nothing_outside_its_scope(
    docs: Path, db_url: str, make_db: Callable[[], str]
) -> None:
    run(docs)
    # Outside the scope: an edit and a delete the scoped run must not apply.
    edit(docs / "dns/bind9/troubleshooting.md")
    (docs / "ipv6/radvd/introduction.md").unlink()
    # Inside: an edit and a delete it must apply.
    edit(docs / "routing/frr/static-routes.md")
    (docs / "routing/bird/protocols/bfd.md").unlink()
    before = rows_outside(db_url, "routing/")
    hashes = content_hashes(db_url)

    scoped = run(docs, only=["routing/**"])

    assert rows_outside(db_url, "routing/") == before  # byte for byte, vectors included
    assert scoped["scope"] == ["routing/**"]
    assert scoped["scanned"] == 11  # the routing files left, nothing else read
    assert (scoped["changed"], scoped["deleted"], scoped["failed"]) == (1, 1, [])
    after = content_hashes(db_url)
    assert "routing/bird/protocols/bfd.md" not in after
    assert after["routing/frr/static-routes.md"] != hashes["routing/frr/static-routes.md"]
    assert "ipv6/radvd/introduction.md" in after  # vanished, but outside: kept

    whole = run(docs)  # the unscoped run then applies the rest ...
    assert (whole["changed"], whole["deleted"]) == (1, 1)
    incremental = fingerprint_of(db_url)
    use_db(make_db())  # ... and the result equals a clean ingest of the folder
    run(docs)
    assert fingerprint_of(None) == incremental


def fingerprint_of(url: str | None) -> str:
    from netdocs.config import get_settings
    from netdocs.db import database_url

    with connection(url or database_url(get_settings())) as conn:
        return fingerprint(conn)


def test_mass_delete_share_is_counted_inside_the_scope(docs: Path, db_url: str) -> None:
    run(docs)
    shutil.rmtree(docs / "vpn")  # 2 of 43 documents: fine for the whole index ...
    with pytest.raises(MassDeleteRefused, match=r"2 of 2 indexed documents inside the scope"):
        run(docs, only=["vpn"])  # ... but all of the scope
    assert {"vpn/wireguard/wg.md", "vpn/wireguard/wg-quick.md"} <= set(content_hashes(db_url))
    allowed = run(docs, only=["vpn"], allow_mass_delete=True)
    assert allowed["deleted"] == 2 and not any(d.startswith("vpn/") for d in content_hashes(db_url))


def test_scoped_run_keeps_stale_marks_outside_its_scope(docs: Path, db_url: str) -> None:
    run(docs)
    (docs / "dns/bind9/troubleshooting.md").write_bytes(b"# Broken\n\n\xff\xfe not UTF-8\n")
    first = run(docs)
    assert [s["path"] for s in first["stale"]] == ["dns/bind9/troubleshooting.md"]
    scoped = run(docs, only=["routing/**"])
    assert [s["path"] for s in scoped["stale"]] == ["dns/bind9/troubleshooting.md"]
    assert scoped["scanned"] == 12 and not scoped["failed"]
    full = run(docs, only=["vpn"], full=True)  # --full re-processes the scope, only it
    assert (full["scanned"], full["changed"], full["committed"]) == (2, 2, 2)
    assert [s["path"] for s in full["stale"]] == ["dns/bind9/troubleshooting.md"]


def test_bad_pattern_fails_before_any_work(docs: Path, db_url: str) -> None:
    with pytest.raises(ConfigError, match=r"'/etc/\*\*'.*absolute"):
        run(docs, only=["/etc/**"])
    with psycopg.connect(db_url) as conn:  # not even migrated: refused before any work
        assert conn.execute("SELECT to_regclass('documents') IS NULL").fetchone() == (True,)
