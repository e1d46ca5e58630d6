"""The query path never migrates: a SELECT-only role can search an ingested index, and a
database without the (current) schema gives an error saying what to run, unchanged."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from netdocs.store.schema import _migrations
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _search(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> tuple[int, dict[str, Any], str]:
    from netdocs.cli import main
    from netdocs.config import get_settings

    monkeypatch.setenv("NETDOCS_DATABASE_URL", url)
    get_settings.cache_clear()
    capsys.readouterr()
    code = main(["search", "how do I configure a BGP neighbor", "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else {}), out.err


def _public_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}


@pytest.fixture
def reader(server_url: str) -> Iterator[str]:
    """A LOGIN role with no privileges yet (dropped afterwards)."""
    role = f"ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with psycopg.connect(server_url, autocommit=True) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
        for (db,) in rows.fetchall():
            admin.execute(f"REVOKE ALL ON DATABASE {db} FROM {role}")
            info = psycopg.conninfo.conninfo_to_dict(server_url)
            info["dbname"] = db
            with psycopg.connect(psycopg.conninfo.make_conninfo("", **info), autocommit=True) as c:
                c.execute(f"DROP OWNED BY {role}")  # its grants in that database
        admin.execute(f"DROP ROLE {role}")


def _as(url: str, role: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["user"] = role
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in info.items() if v})


#: What a query-only role writes: the answer caches, the audit trail and the query metrics.
QUERY_LOG_TABLES = (
    "query_cache",
    "query_embedding_cache",
    "cache_counters",
    "audit_log",
    "query_metrics",
)


def test_a_role_without_ddl_or_index_writes_can_search(
    tmp_path: Path,
    db_url: str,
    reader: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import ingest

    docs = shutil.copytree(SAMPLE, tmp_path / "docs")
    assert ingest(path=str(docs))["chunks_embedded"] > 100
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(db_url, autocommit=True) as owner:
        owner.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")  # no CREATE for anybody
        owner.execute(f"GRANT CONNECT ON DATABASE {dbname} TO {reader}")
        owner.execute(f"GRANT USAGE ON SCHEMA public TO {reader}")
        owner.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
        owner.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {reader}")
        for table in QUERY_LOG_TABLES:  # the query path logs; it never changes the index
            owner.execute(f"GRANT INSERT, UPDATE ON {table} TO {reader}")
    for statement in ("CREATE TABLE probe (x int)", "UPDATE chunks SET text = text"):
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege),  # no DDL, no index writes
            psycopg.connect(_as(db_url, reader)) as conn,
        ):
            conn.execute(statement)
    code, out, err = _search(capsys, monkeypatch, _as(db_url, reader))
    assert code == 0, err
    assert any(h["path"].startswith("routing/") for h in out["results"])


def test_an_unmigrated_database_is_not_changed_by_a_search(
    make_db: Callable[[], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_db()
    code, out, err = _search(capsys, monkeypatch, url)
    assert code == 3 and not out
    assert "has no netdocs schema" in err and "netdocs db migrate" in err
    assert _public_tables(url) == set()
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'"
        ).fetchone() == (0,)

    from netdocs.cli import main

    assert main(["db", "migrate"]) == 0  # the command the error names
    code, out, err = _search(capsys, monkeypatch, url)
    assert code == 0 and out["results"] == [], err  # an empty index: no hits, no error


def test_a_database_behind_the_code_names_the_missing_migration(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from netdocs.store.schema import migrate

    latest = migrate(db_url)
    assert latest == max(v for v, _ in _migrations())
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (latest,))
    code, _, err = _search(capsys, monkeypatch, db_url)
    assert code == 3 and f"lacks schema migration(s) {latest:03d}" in err
    with psycopg.connect(db_url) as conn:  # still behind: the search did not migrate
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    assert row == (sorted(v for v, _ in _migrations())[-2],)
