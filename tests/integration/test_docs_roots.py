"""A flow run (as a deployment would start it) refuses a path outside NETDOCS_DOCS_ROOTS
before any work, and ingests one inside (real Prefect, real PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from netdocs.config import get_settings
from netdocs.errors import ConfigError

from ..conftest import SAMPLE, SAMPLE_TAGS

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_flow_refuses_a_path_outside_the_roots(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest

    allowed = tmp_path / "allowed"
    shutil.copytree(SAMPLE / "dns", allowed / "dns")
    outside = tmp_path / "outside"
    shutil.copytree(SAMPLE / "dns", outside)
    monkeypatch.setenv("NETDOCS_DOCS_ROOTS", str(allowed))
    get_settings.cache_clear()

    for path in (outside, allowed / ".." / "outside"):
        with pytest.raises(ConfigError, match="outside the configured docs roots") as info:
            ingest(path=str(path))
        assert str(path) in str(info.value)
    with psycopg.connect(db_url) as conn:  # refused before the database was touched
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'runs'")
        assert tables.fetchone() == (0,)

    # A folder inside the root: its ids ("bind9/...") would miss the rules written for the
    # root's ("dns/bind9/...") and take another rule's tags. Refused, naming the way in.
    with pytest.raises(ConfigError, match=r"not the root itself.*only=\['dns/\*\*'\]"):
        ingest(path=str(allowed / "dns"))
    done = ingest(path=str(allowed), only=["dns/**"])
    assert done["new"] == done["scanned"] > 0 and not done["failed"]


def test_a_run_may_not_choose_its_policy_when_roots_are_set(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE / "dns", docs / "dns")
    configured = tmp_path / "etc" / "tags.yaml"
    configured.parent.mkdir()
    shutil.copy(SAMPLE_TAGS, configured)
    evil = tmp_path / "evil.yaml"
    evil.write_text('roles:\n  helpdesk: {allow: [faq]}\nrules: [{glob: "**", tags: [faq]}]\n')
    monkeypatch.setenv("NETDOCS_DOCS_ROOTS", str(docs))
    monkeypatch.setenv("NETDOCS_POLICY", str(configured))
    get_settings.cache_clear()

    assert not ingest(path=str(docs))["failed"]
    before = stored(db_url)
    with pytest.raises(ConfigError, match="configure NETDOCS_POLICY on the worker"):
        ingest(path=str(docs), policy=str(evil))
    assert stored(db_url) == before  # the stored policy and every chunk's tags unchanged
    same = tmp_path / "etc" / ".." / "etc" / "tags.yaml"  # the configured file, spelt otherwise
    assert not ingest(path=str(docs), policy=str(same))["failed"]

    monkeypatch.delenv("NETDOCS_POLICY")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="not the configured NETDOCS_POLICY"):
        ingest(path=str(docs), policy=str(configured))
    assert stored(db_url) == before


def stored(url: str) -> tuple[object, ...]:
    """The stored policy's hash and the tags of every chunk."""
    with psycopg.connect(url) as conn:
        sha = conn.execute("SELECT sha256 FROM index_policy").fetchone()
        tags = conn.execute("SELECT DISTINCT tags FROM chunks ORDER BY 1").fetchall()
    assert sha is not None and tags
    return sha, tags
