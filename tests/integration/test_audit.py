"""The audit log: every search/ask from every entry point, `netdocs audit` filters,
append-only table, prune."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from netdocs.cli import main
from netdocs.db import connection
from netdocs.query.api import run_search
from netdocs.query.service import SearchService
from netdocs.store.schema import migrate

from .cache_corpus import sample_index

pytestmark = pytest.mark.usefixtures("prefect_harness")

VPN_Q = "How do I generate WireGuard keys and configure a peer?"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETDOCS_LLM_PROVIDER", "none")
    monkeypatch.setenv("NETDOCS_USER", "alice")
    from netdocs.config import get_settings

    get_settings.cache_clear()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def audit_rows(url: str) -> list[tuple[Any, ...]]:
    with connection(url) as conn:
        stmt = "SELECT id, query_id::text, action FROM audit_log ORDER BY id"
        return conn.execute(stmt).fetchall()


def vpn(paths: list[str]) -> bool:
    return any(p.startswith("vpn/") for p in paths)


def test_audit_path_lists_exactly_the_vpn_accesses(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, policy = sample_index(tmp_path)
    expected: set[str] = set()
    everything: dict[str, str] = {}  # query id -> role
    calls = [
        ("security_engineer", VPN_Q),
        ("helpdesk", VPN_Q),
        ("network_engineer", "configure a BGP peer in FRR"),
        ("admin", VPN_Q),
        ("security_engineer", VPN_Q),  # a cache hit is an access too
        ("admin", "chrony makestep"),
    ]
    for role, q in calls:
        with SearchService.for_role(role, policy) as service:
            r = run_search(service, q, k=5)
        everything[r.query_id] = role
        if vpn([h.path for h in r.hits]):
            expected.add(r.query_id)

    from netdocs import query_engine

    qe = query_engine(role="admin", policy=policy, chat=None)
    try:
        responses = [qe.query("wireguard peer keys"), qe.query("WireGuard peer keys?")]
        nodes = qe.retriever.retrieve("chrony makestep")  # the retriever alone is audited too
    finally:
        qe.close()
    for response, cached in zip(responses, [False, True], strict=True):
        assert response.metadata is not None and response.metadata["cache_hit"] is cached
        engine_paths = [r["path"] for r in response.metadata["retrieved"]]
        everything[response.metadata["query_id"]] = "admin"
        if vpn(engine_paths):
            expected.add(response.metadata["query_id"])

    out = cli(capsys, "search", VPN_Q, "--role", "helpdesk", "--policy", str(policy), "--json")
    everything[out["query_id"]] = "helpdesk"
    if vpn([r["path"] for r in out["results"]]):
        expected.add(out["query_id"])

    rows = audit_rows(db_url)
    assert len(rows) == len(everything) + 1  # + the retriever's own search
    assert {r[1] for r in rows} >= set(everything)
    assert not vpn([n.node.metadata["path"] for n in nodes])

    listed = cli(capsys, "audit", "--path", "vpn/**", "--json")["rows"]
    assert {r["query_id"] for r in listed} == expected
    assert 3 <= len(expected) < len(everything)
    assert all(r["user"] == "alice" and r["role"] for r in listed)
    assert any(r["cache_hit"] for r in listed)

    helpdesk = cli(capsys, "audit", "--role", "helpdesk", "--since", "1h", "--json")["rows"]
    helpdesk_ids = {q for q, role in everything.items() if role == "helpdesk"}
    assert {r["query_id"] for r in helpdesk} == helpdesk_ids
    assert all(r["tags"] == ["faq", "troubleshooting_guides"] for r in helpdesk)
    assert cli(capsys, "audit", "--user", "bob", "--json")["rows"] == []


def test_audit_log_is_append_only_and_prune_leaves_a_record(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, policy = sample_index(tmp_path)
    with SearchService.for_role("helpdesk", policy) as service:
        run_search(service, "chrony makestep")
    with connection(db_url, autocommit=True) as conn:
        for i in range(3):
            conn.execute(
                "INSERT INTO audit_log (at, query_id, action, user_name, question)"
                " VALUES (%s, gen_random_uuid(), 'search', 'old', %s)",
                (f"2020-0{i + 1}-01T00:00:00Z", f"old question {i}"),
            )
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()
        for stmt in (
            "UPDATE audit_log SET question = 'rewritten'",
            "DELETE FROM audit_log",
            "DELETE FROM audit_log WHERE user_name = 'old'",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(stmt)
        # A prune record only admits rows older than its own cutoff.
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(
                "INSERT INTO audit_log (query_id, action, user_name, question, details)"
                " VALUES (gen_random_uuid(), 'prune', 'mallory', '',"
                ' \'{"before": "2020-01-15T00:00:00Z"}\')'
            )
            conn.execute("DELETE FROM audit_log WHERE user_name = 'old'")
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == before

    out = cli(capsys, "audit", "prune", "--before", "2021-01-01", "--json")
    assert out["deleted"] == 3
    with connection(db_url) as conn:
        stmt = "SELECT action, user_name, details FROM audit_log ORDER BY id"
        rows = conn.execute(stmt).fetchall()
    assert [r[0] for r in rows] == ["search", "prune"]
    assert rows[1][1] == "alice" and rows[1][2]["deleted"] == 3
    assert main(["audit", "prune", "--before", "2999-01-01"]) != 0  # no cutoff in the future


def test_the_text_listing_escapes_control_characters(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user (or a file name) holding an escape sequence or a newline cannot erase or
    invent lines of `netdocs audit`'s listing."""
    from netdocs.config import get_settings

    sample_index(tmp_path)
    monkeypatch.setenv("NETDOCS_USER", "eve\x1b[2A\n2026-06-01 10:00:00+0000 search by alice")
    get_settings.cache_clear()
    with SearchService(None) as service:
        run_search(service, VPN_Q, k=3)
    capsys.readouterr()
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "by eve\\x1b[2A\\x0a2026-06-01" in out
    assert not any(line.startswith("2026-06-01 10:00:00") for line in out.splitlines())


def test_prune_works_under_the_recommended_grants_and_keeps_prune_records(db_url: str) -> None:
    """A role with only INSERT and SELECT on audit_log and EXECUTE on the prune function (the
    README's advice) can prune but not delete, so it cannot remove chosen rows under a prune
    record of its own; and a later prune keeps the earlier prune records."""
    migrate(db_url)
    role = f"netdocs_app_{uuid.uuid4().hex[:8]}"
    with connection(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} NOLOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(f"GRANT INSERT, SELECT ON audit_log TO {role}")
        conn.execute(f"GRANT USAGE ON SEQUENCE audit_log_id_seq TO {role}")
        try:
            for i, at in enumerate(("2019-06-01", "2020-06-01", "2021-06-01")):
                conn.execute(
                    "INSERT INTO audit_log (at, query_id, action, user_name, question)"
                    " VALUES (%s, gen_random_uuid(), 'search', %s, 'q')",
                    (f"{at}T00:00:00Z", f"u{i}"),
                )
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT netdocs_audit_prune('2020-01-01', 'ops', NULL)")  # no grant
            conn.execute("RESET ROLE")
            conn.execute(
                f"GRANT EXECUTE ON FUNCTION netdocs_audit_prune(timestamptz, text, text) TO {role}"
            )
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(  # a forged prune record, then a chosen delete: no DELETE right
                    "INSERT INTO audit_log (query_id, action, user_name, question, details)"
                    " VALUES (gen_random_uuid(), 'prune', 'alice', '',"
                    ' \'{"before": "2022-01-01T00:00:00Z"}\')'
                )
                conn.execute("DELETE FROM audit_log WHERE user_name = 'u2'")
            first = conn.execute("SELECT netdocs_audit_prune('2020-01-01', 'ops', NULL)")
            assert first.fetchone() == (1,)
            second = conn.execute("SELECT netdocs_audit_prune('2022-01-01', 'ops', NULL)")
            assert second.fetchone() == (2,)
            rows = conn.execute(
                "SELECT action, user_name, details->>'deleted' FROM audit_log ORDER BY id"
            ).fetchall()
        finally:
            conn.execute("RESET ROLE")
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    assert rows == [("prune", "ops", "1"), ("prune", "ops", "2")]  # both records kept
