"""The index generation (migration 007): one bump per transaction that changes chunk rows,
none for statements that change nothing."""

from __future__ import annotations

import numpy as np
import psycopg

from netdocs.cache.store import current_generation

from .conftest import insert_doc


def test_generation_counts_transactions_that_change_chunks(query_conn: psycopg.Connection) -> None:
    conn = query_conn
    g0 = current_generation(conn)
    vectors = np.ones((3, 384), dtype=np.float32)
    sections = [("A", "alpha text"), ("B", "beta text"), ("C", "gamma text")]
    insert_doc(conn, "gen/doc.md", ["faq"], sections, vectors)  # one transaction, 3 inserts
    assert current_generation(conn) == g0 + 1
    conn.execute("UPDATE chunks SET tags = '{vpn}' WHERE doc_id = 'nothing/here.md'")
    conn.execute("DELETE FROM chunks WHERE doc_id = 'nothing/here.md'")
    assert current_generation(conn) == g0 + 1  # no row changed
    conn.execute("UPDATE chunks SET tags = '{vpn}' WHERE doc_id = 'gen/doc.md'")
    assert current_generation(conn) == g0 + 2
    with conn.transaction():
        conn.execute("UPDATE chunks SET tags = '{faq}' WHERE doc_id = 'gen/doc.md'")
        conn.execute("DELETE FROM chunks WHERE doc_id = 'gen/doc.md' AND ordinal = 0")
        conn.execute("DELETE FROM documents WHERE doc_id = 'gen/doc.md'")  # cascades
    assert current_generation(conn) == g0 + 3
    insert_doc(conn, "gen/other.md", ["faq"], sections[:1], vectors[:1])
    assert current_generation(conn) == g0 + 4
    try:
        with conn.transaction():
            conn.execute("UPDATE chunks SET tags = '{x}'")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert current_generation(conn) == g0 + 4  # a rolled-back change does not count
