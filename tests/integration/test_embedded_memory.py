"""The embedded PostgreSQL runs with shared_buffers sized by netdocs, not PostgreSQL's 128 MB:
a new server takes the value at once; an existing one at its next start, with a warning,
never restarted under its clients."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.db import database_url, stop_embedded
from netdocs.embedded_memory import MAX_MB, MIN_MB, auto_shared_buffers_mb

from .conftest import run_cli


@pytest.fixture
def home() -> Iterator[Path]:
    """A private NETDOCS_HOME (its own embedded server), stopped and removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="netdocs-memory-home-"))
    path.chmod(0o755)  # as root the server runs as another user
    try:
        yield path
    finally:
        stop_embedded(Settings(home=path, database_url=None))
        shutil.rmtree(path, ignore_errors=True)


def shown(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW shared_buffers").fetchone()
    assert row is not None
    return str(row[0])


def test_a_new_server_runs_with_the_configured_size_and_a_change_waits_for_a_restart(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_url(Settings(home=home, database_url=None, embedded_shared_buffers_mb=200))
    assert shown(url) == "200MB"  # PostgreSQL's own default would show 128MB

    caplog.set_level(logging.WARNING, logger="netdocs.db")
    with psycopg.connect(url) as client:  # a client the change must not disconnect
        url = database_url(Settings(home=home, database_url=None, embedded_shared_buffers_mb=300))
        assert client.execute("SELECT 1").fetchone() == (1,)
    assert shown(url) == "200MB"
    assert "next starts" in caplog.text

    # The next command (a new process, as in use) starts the server with the new value.
    assert run_cli(env(home, 300), "db", "stop").code == 0
    result = run_cli(env(home, 300), "db", "migrate")
    assert result.code == 0, result.stderr
    assert shown(url) == "300MB"


def env(home: Path, mb: int) -> dict[str, str]:
    """The environment of a netdocs command on ``home`` with ``mb`` of shared_buffers."""
    out = {k: v for k, v in os.environ.items() if k != "NETDOCS_DATABASE_URL"}
    return out | {"NETDOCS_HOME": str(home), "NETDOCS_EMBEDDED_SHARED_BUFFERS_MB": str(mb)}


def test_the_automatic_size_is_an_eighth_of_memory_within_bounds() -> None:
    gib = 2**30
    assert auto_shared_buffers_mb(4 * gib) == 512
    assert auto_shared_buffers_mb(512 * 2**20) == MIN_MB
    assert auto_shared_buffers_mb(64 * gib) == MAX_MB
