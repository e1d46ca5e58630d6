"""`netdocs serve` with NETDOCS_POLICY never applies the file wider than the policy the
index's tags follow (real PostgreSQL, the server's Runtime)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netdocs.config import Settings
from netdocs.db import connect
from netdocs.errors import AccessDenied, ConfigError
from netdocs.policy import load_policy
from netdocs.server.auth import Principal
from netdocs.server.runtime import Runtime
from netdocs.store.policy_store import store_policy
from netdocs.store.schema import migrate

RULES = "rules:\n  - glob: 'secret/**'\n    tags: [internal]\n  - glob: '**'\n    tags: [faq]\n"
STORED = "roles:\n  hd: {allow: [faq]}\n  sec: {allow: [internal]}\n  admin: {allow: ['*']}\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime + 1))  # a new version
    return path


def allowed(rt: Runtime, role: str) -> frozenset[str] | None:
    with rt.connection() as conn:
        return rt.service(conn, Principal("u", role, "token")).allowed


def test_an_edited_policy_file_narrows_at_once_and_widens_only_after_an_ingest(
    db_url: str, tmp_path: Path
) -> None:
    migrate(db_url)
    stored = write(tmp_path / "stored.yaml", STORED + RULES)
    with connect(db_url, autocommit=True) as c:
        store_policy(c, load_policy(stored), None)  # the tags follow this one
    # The file renames nothing but widens hd to `internal`, adds a role, and makes the
    # admin a narrower role: none of it may show more than the stored policy grants.
    file = write(
        tmp_path / "tags.yaml",
        "roles:\n  hd: {allow: [faq, internal]}\n  sec: {allow: [internal]}\n"
        "  ops: {allow: ['*']}\n  admin: {allow: [faq]}\n" + RULES,
    )
    rt = Runtime(Settings(policy=file, embedding_provider="hashing"), db_url)
    try:
        assert allowed(rt, "hd") == {"faq"}  # not `internal` yet
        assert allowed(rt, "sec") == {"internal"}
        assert allowed(rt, "admin") == {"faq"}  # narrowed at once
        with pytest.raises(AccessDenied):
            allowed(rt, "ops")  # not a role of the stored policy
        write(file, STORED.replace("  sec: {allow: [internal]}\n", "") + RULES)
        with pytest.raises(AccessDenied):
            allowed(rt, "sec")  # dropped from the file: denied without an ingest
        wide = write(tmp_path / "tags.yaml", "roles:\n  hd: {allow: [faq, internal]}\n" + RULES)
        with connect(db_url, autocommit=True) as c:
            store_policy(c, load_policy(wide), None)  # as the ingest does, with the tags
        assert allowed(rt, "hd") == {"faq", "internal"}  # now the file applies as written
    finally:
        rt.close()


def test_an_index_tagged_without_a_policy_is_not_served_under_one(
    db_url: str, tmp_path: Path
) -> None:
    migrate(db_url)
    with connect(db_url, autocommit=True) as c:
        c.execute(
            "INSERT INTO documents (doc_id, content_hash, meta_hash, tags, chunk_count, run_id)"
            " VALUES ('secret/psk.md', 'x', 'y', '{faq}', 0, gen_random_uuid())"
        )  # front matter said `faq`; no policy checked it
    file = write(tmp_path / "tags.yaml", STORED + RULES)
    with pytest.raises(ConfigError, match="stores no access policy"):
        Runtime(Settings(policy=file, embedding_provider="hashing"), db_url)
