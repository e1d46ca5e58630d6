"""A new access policy and the tags it gives are stored together (real PostgreSQL + Prefect
harness): a run that dies while re-tagging leaves the old policy with the old tags, never
the new roles over the old tags; a document whose new tags the database refuses is
withdrawn from restricted roles instead of keeping tags the policy no longer gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from netdocs.store import writer

from .test_trust import TAGS, _no_policy_in_env, docs, ingest, policy_copy, sql  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("prefect_harness", "_no_policy_in_env")


class Crash(BaseException):
    """The process dying mid-way (not an error a task would catch)."""


def _everything_faq(data: dict[str, Any]) -> None:
    """A policy whose rules give every document the tag ``faq`` (helpdesk sees all)."""
    for rule in data["rules"]:
        rule["tags"] = ["faq"]


def stored_sha(url: str) -> str:
    return str(sql(url, "SELECT sha256 FROM index_policy")[0][0])


def tags_by_doc(url: str) -> dict[str, list[str]]:
    rows = sql(url, "SELECT doc_id, tags FROM documents")
    chunk_rows = sql(url, "SELECT DISTINCT doc_id, tags FROM chunks")
    assert {(d, tuple(t)) for d, t in chunk_rows} == {(d, tuple(t)) for d, t in rows}
    return {d: sorted(t) for d, t in rows}


def test_a_run_dying_while_retagging_keeps_the_old_policy_with_the_old_tags(
    docs: Path,  # noqa: F811
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(docs, TAGS)
    old_sha, old_tags = stored_sha(db_url), tags_by_doc(db_url)
    new = policy_copy(tmp_path, "all-faq.yaml", _everything_faq)
    real, calls = writer.retag, [0]

    def dying(conn: psycopg.Connection, doc_id: str, tags: Any, run_id: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise Crash
        real(conn, doc_id, tags, run_id)

    monkeypatch.setattr(writer, "retag", dying)
    with pytest.raises(Crash):
        ingest(docs, new)
    assert calls[0] == 3  # it died in the middle of the re-tagging
    assert stored_sha(db_url) == old_sha  # not the new roles ...
    assert tags_by_doc(db_url) == old_tags  # ... over the old tags

    monkeypatch.setattr(writer, "retag", real)
    result = ingest(docs, new)  # the next run applies both
    assert not result["failed"]
    assert stored_sha(db_url) != old_sha
    assert set(map(tuple, tags_by_doc(db_url).values())) == {("faq",)}


def test_a_document_whose_new_tags_are_refused_is_withdrawn_from_restricted_roles(
    docs: Path,  # noqa: F811
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(docs, TAGS)
    old_sha = stored_sha(db_url)
    victim = "firewall/nftables/nft/chains.md"
    assert "firewall_rules" in tags_by_doc(db_url)[victim]
    new = policy_copy(tmp_path, "all-faq.yaml", _everything_faq)
    real = writer.retag

    def refusing(conn: psycopg.Connection, doc_id: str, tags: Any, run_id: Any) -> None:
        if doc_id == victim and tags:
            raise psycopg.errors.DataError("value refused")
        real(conn, doc_id, tags, run_id)

    monkeypatch.setattr(writer, "retag", refusing)
    result = ingest(docs, new)
    failed = {f["path"]: f["error"] for f in result["failed"]}
    assert victim in failed and "withdrawn" in failed[victim]
    after = tags_by_doc(db_url)
    assert after[victim] == []  # no role but an unrestricted one sees it
    assert {tuple(t) for d, t in after.items() if d != victim} == {("faq",)}
    assert stored_sha(db_url) != old_sha  # the new policy is stored with them
