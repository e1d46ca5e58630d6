"""`netdocs search` / `netdocs ask` and the Python query engine on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from netdocs.cli import main
from netdocs.config import get_settings
from netdocs.errors import AccessDenied, ConfigError
from netdocs.query.engine import query_engine
from tests.stubs.provider_server import ProviderStub

from .conftest import store_policy_text

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "examples" / "tags.yaml"
ROLES = "admin, helpdesk, network_engineer, security_engineer"

DOCS: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "routing/frr/bgp.md": (
        ["configs", "standards", "runbooks"],
        [
            (
                "BGP > Peers",
                "To add a BGP peer, configure neighbor 192.0.2.1 remote-as 65001 under router bgp.",
            ),
            ("BGP > Timers", "The keepalive timer defaults to 60 seconds, the hold time to 180."),
        ],
    ),
    "vpn/wireguard/keys.md": (
        ["vpn", "security_policies"],
        [
            ("WireGuard > Keys", "Generate a BGP-free private key with wg genkey; keep it secret."),
        ],
    ),
    "switching/openvswitch/faq/general.md": (
        ["faq"],
        [
            ("FAQ > BGP", "Q: Does Open vSwitch speak BGP? A: No, use a routing daemon as a peer."),
        ],
    ),
    "troubleshooting/tools/ping.md": (
        ["troubleshooting_guides"],
        [
            ("Ping", "Use ping to check that a BGP peer address answers at all."),
        ],
    ),
}
HELPDESK_PATHS = {"switching/openvswitch/faq/general.md", "troubleshooting/tools/ping.md"}


@pytest.fixture(scope="module", autouse=True)
def corpus(
    add_doc: Callable[..., None],
    query_conn: psycopg.Connection,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for doc_id, (tags, sections) in DOCS.items():
        add_doc(doc_id, tags, sections)
    # As an ingest with --policy leaves it: the policy stored with the documents' tags.
    store_policy_text(query_conn, tmp_path_factory.mktemp("policy"), POLICY.read_text())


@pytest.fixture
def no_stored_policy(query_conn: psycopg.Connection, tmp_path: Path) -> Iterator[None]:
    """The index as an ingest without any policy leaves it: front-matter tags, no policy."""
    query_conn.execute("DELETE FROM index_policy")
    query_conn.commit()
    yield
    store_policy_text(query_conn, tmp_path, POLICY.read_text())


@pytest.fixture(autouse=True)
def env(query_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's settings: this module's database, hashing embeddings, no keys, no policy."""
    monkeypatch.setenv("NETDOCS_DATABASE_URL", query_db)
    monkeypatch.setenv("NETDOCS_EMBEDDING_PROVIDER", "hashing")
    for var in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_BASE_URL",
        "NETDOCS_POLICY",
        "NETDOCS_ROLE",
        "NETDOCS_LLM_PROVIDER",
        "NETDOCS_LLM_ROUTER",
    ):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run the CLI in-process: (exit code, parsed JSON or text stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and out else out), err


def test_search_json_shape_and_role_filter(capsys) -> None:
    code, out, _ = run(
        capsys,
        "search",
        "how do I add a BGP peer",
        "--json",
        "--k",
        "3",
        "--role",
        "network_engineer",
        "--policy",
        str(POLICY),
    )
    assert code == 0
    assert set(out) == {"query_id", "results", "latency_ms", "cache_hit"}
    uuid.UUID(out["query_id"])
    assert len(out["results"]) == 3
    assert all(set(r) == {"path", "heading", "chunk_id", "score", "text"} for r in out["results"])
    found = {(r["path"], r["heading"]) for r in out["results"]}
    assert ("routing/frr/bgp.md", "BGP > Peers") in found
    assert "vpn/wireguard/keys.md" not in {r["path"] for r in out["results"]}

    code, out, _ = run(
        capsys,
        "search",
        "BGP peer private key",
        "--json",
        "--k",
        "10",
        "--role",
        "helpdesk",
        "--policy",
        str(POLICY),
    )
    assert code == 0 and {r["path"] for r in out["results"]} == HELPDESK_PATHS


@pytest.mark.parametrize("role", [["--role", "intern"], []])
def test_unknown_or_missing_role_exits_2_naming_the_roles(capsys, role) -> None:
    for cmd in ("search", "ask"):
        code, out, err = run(capsys, cmd, "BGP", "--json", "--policy", str(POLICY), *role)
        assert code == 2 and out == ""
        assert ROLES in err and ("intern" in err if role else "no role given" in err)


def test_role_and_policy_from_the_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("NETDOCS_POLICY", str(POLICY))
    monkeypatch.setenv("NETDOCS_ROLE", "helpdesk")
    get_settings.cache_clear()
    code, out, _ = run(capsys, "search", "BGP peer", "--json", "--k", "10")
    assert code == 0 and {r["path"] for r in out["results"]} == HELPDESK_PATHS
    monkeypatch.setenv("NETDOCS_ROLE", "nobody")
    get_settings.cache_clear()
    assert run(capsys, "search", "BGP peer", "--json")[0] == 2


@pytest.mark.usefixtures("no_stored_policy")
def test_without_a_stored_policy_a_role_is_refused_and_no_role_sees_everything(capsys) -> None:
    # This index has no stored policy and none is given: a role cannot be checked.
    code, out, err = run(capsys, "search", "BGP", "--json", "--k", "10", "--role", "helpdesk")
    assert code == 2 and not out and "no access policy" in err
    # A policy given now would be checked against tags the authors wrote (front matter:
    # vpn/wireguard/keys.md could say `tags: [faq]`): refused, naming the fix.
    for role in ("helpdesk", "admin"):
        code, out, err = run(
            capsys, "search", "BGP", "--json", "--role", role, "--policy", str(POLICY)
        )
        assert code == 2 and not out and "stores no access policy" in err
        with pytest.raises(ConfigError, match="stores no access policy"):
            query_engine(role=role, policy=POLICY, chat=None)
    code, out, _ = run(capsys, "search", "BGP", "--json", "--k", "10")
    assert code == 0 and {r["path"] for r in out["results"]} == set(DOCS)


def test_ask_without_a_key_is_an_extractive_fallback(capsys) -> None:
    args = (
        "how do I add a BGP peer",
        "--json",
        "--role",
        "network_engineer",
        "--policy",
        str(POLICY),
    )
    found = run(capsys, "search", *args)[1]["results"]
    code, out, _ = run(capsys, "ask", *args)
    assert code == 0
    assert set(out) == {
        "query_id",
        "answer",
        "answered",
        "mode",
        "model",
        "citations",
        "latency_ms",
        "tokens",
        "cost_usd",
        "low_confidence",
        "cache_hit",
    }
    assert out["mode"] == "fallback" and out["model"] is None and out["answered"] is True
    assert out["tokens"] == {"input": 0, "output": 0} and out["cost_usd"] == 0.0
    assert out["answer"].startswith("Extractive fallback")
    assert [(c["n"], c["path"], c["heading"], c["chunk_id"]) for c in out["citations"]] == [
        (n, r["path"], r["heading"], r["chunk_id"]) for n, r in enumerate(found[:3], start=1)
    ]
    code, text, _ = run(capsys, "ask", "how do I add a BGP peer", "--role", "network_engineer")
    top = found[0]
    assert code == 0 and f"[1] {top['path']} — {top['heading']}" in text and "fallback" in text


def test_ask_through_anthropic_cites_retrieved_chunks(capsys, monkeypatch) -> None:
    with ProviderStub(reply="Configure `neighbor ... remote-as` [1]; ping it first [3].") as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "k-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.anthropic_base_url)
        get_settings.cache_clear()
        monkeypatch.setenv("NETDOCS_ROLE", "admin")  # the index stores examples/tags.yaml
        _, found, _ = run(capsys, "search", "how do I add a BGP peer", "--json")
        code, out, _ = run(capsys, "ask", "how do I add a BGP peer", "--json")
        assert stub.count("messages") == 1
        code2, text, _ = run(capsys, "ask", "how do I add a BGP peer")
    assert code == 0 and out["mode"] == "llm" and out["answered"]
    assert out["model"] == "claude-sonnet-4-5" and out["tokens"]["input"] > 0
    assert out["cost_usd"] > 0
    results = found["results"]
    assert [(c["n"], c["chunk_id"]) for c in out["citations"]] == [
        (1, results[0]["chunk_id"]),
        (3, results[2]["chunk_id"]),
    ]
    assert code2 == 0 and "Sources:" in text and f"[1] {results[0]['path']}" in text


def test_empty_index_says_so(capsys, query_pg, monkeypatch) -> None:
    name = "q_empty_" + uuid.uuid4().hex[:6]
    with psycopg.connect(query_pg.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    monkeypatch.setenv("NETDOCS_DATABASE_URL", query_pg.get_uri(database=name))
    get_settings.cache_clear()
    code, out, err = run(capsys, "search", "BGP", "--json")  # search never migrates
    assert code == 3 and "netdocs db migrate" in err
    assert run(capsys, "db", "migrate")[0] == 0
    code, out, err = run(capsys, "search", "BGP", "--json")
    assert code == 0 and out["results"] == [] and "index is empty" in err


def test_python_api_query_engine() -> None:
    from llama_index.core.base.response.schema import Response

    from netdocs import query_engine

    qe = query_engine(role="helpdesk", policy=POLICY, chat=None)
    try:
        response = qe.query("Does Open vSwitch speak BGP?")
        assert isinstance(response, Response)
        assert response.response and response.response.startswith("Extractive fallback")
        assert response.source_nodes
        for i, node in enumerate(response.source_nodes, start=1):
            assert node.node.metadata["citation"] == i
            assert node.node.metadata["path"] in HELPDESK_PATHS
            assert node.node.node_id == node.node.metadata["chunk_id"]
        assert response.metadata is not None and response.metadata["mode"] == "fallback"
        assert {r["path"] for r in response.metadata["retrieved"]} <= HELPDESK_PATHS

        nodes = qe.retriever.retrieve("BGP peer")
        assert nodes and {n.node.metadata["path"] for n in nodes} <= HELPDESK_PATHS

        async def many() -> list[Any]:
            questions = ["BGP peer?", "ping a peer", "Open vSwitch BGP", "hold time", "keys"]
            return await asyncio.gather(*(qe.aquery(q) for q in questions))

        answers = asyncio.run(many())
        assert len(answers) == 5 and all(isinstance(a, Response) for a in answers)
        assert all(
            n.node.metadata["path"] in HELPDESK_PATHS for a in answers for n in a.source_nodes
        )
    finally:
        qe.close()
    with pytest.raises(AccessDenied, match="helpdesk"):
        query_engine(role="intern", policy=POLICY)


def test_cold_cli_process_exit_code_2(query_db: str) -> None:
    env = {**os.environ, "NETDOCS_DATABASE_URL": query_db, "NETDOCS_EMBEDDING_PROVIDER": "hashing"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netdocs.cli",
            "ask",
            "BGP?",
            "--role",
            "intern",
            "--policy",
            str(POLICY),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert ROLES in proc.stderr


def test_a_question_with_nothing_visible_is_refused(capsys) -> None:
    for cmd in ("search", "ask"):
        for blank in ("", "   ", "\u200b\u202e"):
            code, out, err = run(capsys, cmd, blank, "--json", "--role", "helpdesk")
            assert code == 2 and not out and "question is empty" in err, (cmd, blank, err)
