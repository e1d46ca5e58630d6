"""Shared fixtures: one embedded PostgreSQL per session, a fresh database per test,
one Prefect test harness per session, document folders copied from the bundled sample.

The suite needs nothing outside the repository: ``examples/sample-docs`` (43 files) and
``examples/tags.yaml`` are the default corpus and policy. ``NETDOCS_TEST_CORPUS=DIR`` opts in
to another corpus with the same layout (e.g. ``../shared/corpora/network-docs``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample-docs"
SAMPLE_TAGS = REPO / "examples" / "tags.yaml"
# The corpus the fixtures copy from: the bundled sample unless a test run opts in.
CORPUS = Path(os.environ.get("NETDOCS_TEST_CORPUS") or SAMPLE).resolve()
TAGS = CORPUS / "tags.yaml" if (CORPUS / "tags.yaml").is_file() else SAMPLE_TAGS

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# CLI runs without PREFECT_API_URL use Prefect's temporary server, never the reused local one
# (it would outlive the suite); tests of the reused server set NETDOCS_PREFECT=local themselves.
os.environ["NETDOCS_PREFECT"] = "ephemeral"


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
def make_db(server_url: str) -> Iterator[Callable[..., str]]:
    """A factory of brand-new databases on the session server, dropped after the test."""
    import psycopg

    names: list[str] = []

    def make(template: str | None = None) -> str:
        """A new database; with ``template`` (a URL from this factory), a copy of that one."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        copy = ""
        if template is not None:
            copy = f" TEMPLATE {psycopg.conninfo.conninfo_to_dict(template)['dbname']}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{copy}")
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
def _hashing_embedder_by_default(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fast deterministic embeddings, unless the test is marked ``real_model`` (the packaged
    model users get) or the environment names a provider."""
    if request.node.get_closest_marker("real_model"):
        monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "local")
    elif "NETDOCS_EMBEDDING_PROVIDER" not in os.environ:
        monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
    _clear_settings()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary API + SQLite) for the whole session."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # A generous start-up timeout: on a busy 2-core machine the server can take over 30 s.
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def copy_corpus(dest: Path, *folders: str) -> Path:
    """Copy sub-folders of the test corpus (the bundled sample by default) into ``dest``;
    with no folders, the whole corpus. A missing folder is an error naming it."""
    if not folders:
        shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("tags.yaml"))
        return dest
    for folder in folders:
        if not (CORPUS / folder).is_dir():
            raise FileNotFoundError(f"{CORPUS / folder}: no such folder in the test corpus")
        shutil.copytree(CORPUS / folder, dest / folder)
    return dest


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A real documentation folder: the whole bundled sample (43 files), or BIRD + radvd +
    lldpd of an opted-in corpus."""
    if SAMPLE.resolve() == CORPUS:
        return copy_corpus(tmp_path / "docs")
    return copy_corpus(tmp_path / "docs", "routing/bird", "ipv6/radvd", "switching/lldpd")


@pytest.fixture
def few_docs(tmp_path: Path) -> Path:
    """A small real documentation folder: three top-level folders of two documents each
    from the bundled sample, whatever corpus is opted in (enough for per-file failures and
    the mass-delete guard)."""
    dest = tmp_path / "docs"
    for folder in FEW_FOLDERS:
        shutil.copytree(SAMPLE / folder, dest / folder)
    return dest


#: Three top-level folders of the bundled sample with two documents each.
FEW_FOLDERS = ("dns", "ipv6", "vpn")


def remove_most(root: Path, share: float = 0.6) -> set[str]:
    """Delete whole top-level folders of ``root`` until more than ``share`` of its files are
    gone (enough to trip the 50 % mass-delete guard); return the removed document ids."""
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    removed: set[str] = set()
    for top in sorted(p for p in root.iterdir() if p.is_dir()):
        if len(removed) > share * len(files):
            break
        removed |= {p.relative_to(root).as_posix() for p in top.rglob("*") if p.is_file()}
        shutil.rmtree(top)
    assert len(removed) > share * len(files) and len(removed) < len(files), "folder too flat"
    return removed
