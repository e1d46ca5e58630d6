"""The dense search's exact-scan decision is remembered per connection and tag set, but
re-counted as soon as the index changes (a new generation)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from netdocs.query import search

from .conftest import InsertDoc

AGE = timedelta(days=7)


def test_exact_scan_choice_is_recounted_when_the_index_changes(
    query_conn: psycopg.Connection, add_doc: InsertDoc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "EXACT_SCAN_BELOW", 2)
    allowed = frozenset({"rare"})
    add_doc("one.md", ["rare"], [("One", "a single rare chunk about radvd")])
    assert search._few_permitted(query_conn, allowed, AGE)  # 1 permitted chunk <= 2
    monkeypatch.setattr(search, "EXACT_SCAN_BELOW", 0)  # a recount would now say no
    assert search._few_permitted(query_conn, allowed, AGE)  # remembered, not recounted
    monkeypatch.setattr(search, "EXACT_SCAN_BELOW", 2)
    add_doc("two.md", ["rare"], [("Two", "more about radvd"), ("Three", "and lldpd")])
    assert not search._few_permitted(query_conn, allowed, AGE)  # 3 > 2: recounted
    assert search._few_permitted(query_conn, frozenset({"other"}), AGE)  # per tag set
