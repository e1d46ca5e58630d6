"""A flow run (as a deployment would start it) refuses a path outside NETDOCS_DOCS_ROOTS
before any work, and ingests one inside (real Prefect, real PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from netdocs.config import get_settings
from netdocs.errors import ConfigError

from ..conftest import SAMPLE

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

    done = ingest(path=str(allowed / "dns"))
    assert done["new"] == done["scanned"] > 0 and not done["failed"]
