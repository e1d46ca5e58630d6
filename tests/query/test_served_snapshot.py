"""The server reads the index's generation, model and policy hash once per request
(netdocs.store.snapshot): a change committed between requests must still be seen by the
next request, and a generation read for one query must not be reused by a later one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.query.api import run_search
from netdocs.server.auth import Principal
from netdocs.server.runtime import Runtime

from .conftest import store_policy_text

Q = "how do I reset a helpdesk password"
HD = Principal("dana", "hd", "token")


@pytest.fixture(scope="module")
def rt(
    query_db: str,
    query_conn: psycopg.Connection,
    add_doc: Callable[..., None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Runtime]:
    add_doc("faq/password.md", ["faq"], [("Password", "Reset a helpdesk password in the portal.")])
    store_policy_text(query_conn, tmp_path_factory.mktemp("p1"), "roles:\n  hd: {allow: [faq]}\n")
    settings = Settings(
        policy=None, embedding_provider="hashing", llm_provider="none", query_cache_ttl="24h"
    )
    runtime = Runtime(settings, query_db)
    yield runtime
    runtime.close()


def test_each_request_and_each_query_sees_the_generation_current_at_its_start(
    rt: Runtime, add_doc: Callable[..., None]
) -> None:
    with rt.connection() as conn:
        assert not run_search(rt.service(conn, HD), Q, k=3).cache_hit
        assert run_search(rt.service(conn, HD), Q, k=3).cache_hit
        add_doc("faq/password2.md", ["faq"], [("Portal", "The helpdesk password portal.")])
        fresh = run_search(rt.service(conn, HD), Q, k=3)  # a new request after the change
        assert not fresh.cache_hit
        assert "faq/password2.md" in {h.path for h in fresh.hits}
        svc = rt.service(conn, HD)  # one service, two queries, a change in between
        assert run_search(svc, Q, k=3).cache_hit
        add_doc("faq/password3.md", ["faq"], [("Locked", "A locked helpdesk password.")])
        assert not run_search(svc, Q, k=3).cache_hit  # not the generation read before


def test_a_replaced_stored_policy_applies_to_the_next_request(
    rt: Runtime, query_conn: psycopg.Connection, tmp_path: Path
) -> None:
    with rt.connection() as conn:
        assert rt.service(conn, HD).allowed == {"faq"}
        store_policy_text(query_conn, tmp_path, "roles:\n  hd: {allow: [vpn]}\n")
        assert rt.service(conn, HD).allowed == {"vpn"}
        store_policy_text(query_conn, tmp_path, "roles:\n  hd: {allow: [faq]}\n")
        assert rt.service(conn, HD).allowed == {"faq"}
