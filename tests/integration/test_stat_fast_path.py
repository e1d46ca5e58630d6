"""The scan's stat fast path against a real index: unchanged files are not read again,
edits are seen even when size and mtime are kept, racy records and --full read the files,
and tags still follow the policy (netdocs.filestat, netdocs.ingest.plan)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import psycopg

from netdocs.ingest.plan import Plan, make_plan
from netdocs.policy import Policy, policy_from_text
from netdocs.sources import read_document
from netdocs.store.schema import migrate
from netdocs.store.writer import commit_document

from ..conftest import copy_corpus

POLICY_TEXT = """
version: 1
tag_vocabulary: {configs: c, runbooks: r, faq: f}
roles: {admin: {allow: ["*"]}}
rules: [{glob: "bgp/**", tags: [%s]}, {glob: "**", tags: [runbooks]}]
front_matter_tags: [faq]
"""


def policy(tag: str) -> Policy:
    return policy_from_text(POLICY_TEXT % tag, "<test>")


def plan(url: str, docs: Path, pol: Policy | None = None, **kw: object) -> Plan:
    kw.setdefault("racy_margin_s", 0.0)  # files written just now: trusted at once
    with psycopg.connect(url) as conn:
        out = make_plan(conn, docs, pol, include=["**/*.md"], exclude=[], max_bytes=10**6, **kw)  # type: ignore[arg-type]
        conn.commit()
    return out


def commit_all(url: str, docs: Path, pol: Policy | None = None) -> None:
    """Index every file as the ingest's commit stage does (read, then commit; no chunks)."""
    migrate(url)
    with psycopg.connect(url) as conn:
        for path in sorted(docs.rglob("*.md")):
            doc = read_document(docs, path.relative_to(docs).as_posix(), pol, 10**6)
            commit_document(conn, doc, [], np.zeros((0, 384), np.float32), uuid.uuid4())


def was_read(p: Plan, doc_id: str, recorded: Plan) -> bool:
    """True when the scan read the file (a new read time), not the recorded stat."""
    stat, before = p.docs[doc_id].stat, recorded.docs[doc_id].stat
    assert stat is not None and before is not None
    return stat.seen_ns != before.seen_ns


def same_size_edit(path: Path, keep_mtime: bool) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_unchanged_files_are_not_read_and_same_size_edits_are_seen(
    tmp_path: Path, db_url: str
) -> None:
    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    ids = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    assert len(ids) >= 3
    commit_all(db_url, docs)
    first = plan(db_url, docs)
    assert list(first.changes.unchanged) == ids
    second = plan(db_url, docs)
    assert not any(was_read(second, d, first) for d in ids)

    same_size_edit(docs / ids[0], keep_mtime=True)  # only the ctime tells
    same_size_edit(docs / ids[1], keep_mtime=False)
    third = plan(db_url, docs)
    assert list(third.changes.changed) == ids[:2], third.changes
    assert list(third.changes.unchanged) == ids[2:]


def test_racy_records_and_full_runs_read_the_files(tmp_path: Path, db_url: str) -> None:
    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    ids = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    commit_all(db_url, docs)
    first = plan(db_url, docs)
    # Written within the margin of the read that recorded them: not trusted, read again.
    racy = plan(db_url, docs, racy_margin_s=3600.0)
    assert all(was_read(racy, d, first) for d in ids)
    trusted = plan(db_url, docs)
    full = plan(db_url, docs, full=True)
    assert all(was_read(full, d, trusted) for d in ids)
    assert list(full.changes.changed) == ids


def test_the_first_read_records_the_stat_for_the_next_run(tmp_path: Path, db_url: str) -> None:
    """An index from before the fast path (no recorded stat) reads every file once."""
    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    ids = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    commit_all(db_url, docs)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE documents SET file_size = NULL, declared_tags = NULL")
    first = plan(db_url, docs)
    second = plan(db_url, docs)
    assert list(second.changes.unchanged) == ids
    assert not any(was_read(second, d, first) for d in ids)


def test_tags_follow_the_policy_without_reading_the_files(tmp_path: Path, db_url: str) -> None:
    docs = tmp_path / "docs"
    (docs / "bgp").mkdir(parents=True)
    (docs / "bgp" / "a.md").write_text("---\ntags: [faq, secret]\n---\n# A\n\nText.\n")
    (docs / "b.md").write_text("# B\n\nText.\n")
    commit_all(db_url, docs, policy("configs"))
    first = plan(db_url, docs, policy("configs"))
    assert not first.retag and not first.changes.metadata_only
    assert first.docs["bgp/a.md"].tags == ("configs", "faq")
    moved = plan(db_url, docs, policy("runbooks"))  # the bgp rule now gives runbooks
    assert not was_read(moved, "bgp/a.md", first)
    assert moved.retag == {"bgp/a.md": ("faq", "runbooks")}
    assert list(moved.changes.metadata_only) == ["bgp/a.md"]
    assert moved.scan.warnings == [
        "bgp/a.md: front-matter tags ['secret'] ignored (not in the policy's front_matter_tags)"
    ]


def test_an_indexed_link_that_breaks_is_reported_not_deleted(tmp_path: Path, db_url: str) -> None:
    """The fast path's stat fails on a broken link: the read reports it (the index keeps the
    document), as without the fast path; it is not taken for a deleted file."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "target.dat").write_text("# Linked\n\nText.\n")
    (docs / "link.md").symlink_to("target.dat")
    (docs / "plain.md").write_text("# Plain\n\nText.\n")
    commit_all(db_url, docs)
    assert list(plan(db_url, docs).changes.unchanged) == ["link.md", "plain.md"]
    (docs / "target.dat").unlink()
    broken = plan(db_url, docs)
    assert broken.changes.deleted == () and broken.scan.vanished == []
    assert [(f.doc_id, f.error) for f in broken.scan.failures] == [
        ("link.md", "broken symbolic link")
    ]
