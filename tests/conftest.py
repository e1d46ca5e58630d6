"""Shared fixtures: one embedded PostgreSQL per session, a fresh database per test,
one Prefect test harness per session, corpus folders copied from ../shared."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "network-docs"
SAMPLE = REPO / "examples" / "sample-docs"
TAGS = CORPUS / "tags.yaml"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def netdocs_home() -> Iterator[Path]:
    """A session NETDOCS_HOME whose embedded server is stopped at the end.

    Not under pytest's tmp dir: as root, PostgreSQL runs as another user, and every pytest
    start resets /tmp/pytest-of-root to mode 0700, which would lock the server out."""
    home = Path(tempfile.mkdtemp(prefix="netdocs-test-home-"))
    home.chmod(0o755)
    old = os.environ.get("NETDOCS_HOME")
    os.environ["NETDOCS_HOME"] = str(home)
    yield home
    from netdocs.config import Settings
    from netdocs.db import stop_embedded

    stop_embedded(Settings(home=home))
    shutil.rmtree(home, ignore_errors=True)
    if old is None:
        os.environ.pop("NETDOCS_HOME", None)
    else:
        os.environ["NETDOCS_HOME"] = old


@pytest.fixture(scope="session")
def server_url(netdocs_home: Path) -> str:
    """The URL of the session's embedded PostgreSQL (maintenance database)."""
    from netdocs.config import Settings
    from netdocs.db import database_url

    return database_url(Settings(home=netdocs_home, database_url=None))


@pytest.fixture
def make_db(server_url: str) -> Iterator[Callable[[], str]]:
    """A factory of brand-new databases on the session server, dropped after the test."""
    import psycopg

    names: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        names.append(name)
        info = psycopg.conninfo.conninfo_to_dict(server_url)
        info["dbname"] = name
        return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def use_db(url: str) -> None:
    """Point NETDOCS_DATABASE_URL at ``url`` (settings re-read)."""
    os.environ["NETDOCS_DATABASE_URL"] = url
    _clear_settings()


@pytest.fixture
def db_url(make_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A brand-new database for one test, set as NETDOCS_DATABASE_URL."""
    url = make_db()
    monkeypatch.setenv("NETDOCS_DATABASE_URL", url)
    _clear_settings()
    yield url
    _clear_settings()


def _clear_settings() -> None:
    from netdocs.config import get_settings

    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _hashing_embedder_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast deterministic embeddings unless a test asks for the real model."""
    if "NETDOCS_EMBEDDING_PROVIDER" not in os.environ:
        monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
    _clear_settings()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary API + SQLite) for the whole session."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def copy_corpus(dest: Path, *folders: str) -> Path:
    """Copy sub-folders of the shared corpus into ``dest``.

    A clone without ../shared gets the whole bundled sample instead (43 files that include
    the files the tests name)."""
    if not CORPUS.is_dir():
        shutil.copytree(SAMPLE, dest)
        return dest
    for folder in folders:
        shutil.copytree(CORPUS / folder, dest / folder)
    return dest


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A small real documentation folder (BIRD + radvd + lldpd)."""
    return copy_corpus(tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd")
