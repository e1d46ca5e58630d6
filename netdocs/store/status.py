"""Read-only facts about the index: counts, model, last run, fingerprint."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import psycopg

from netdocs.store.breakers import load_breakers
from netdocs.store.policy_store import load_stored_policy
from netdocs.store.schema import recorded_model
from netdocs.store.stale import list_stale


def fingerprint(conn: psycopg.Connection) -> str:
    """A digest over the sorted (chunk id, text hash, doc id, tags) rows of the index."""
    digest = hashlib.sha256()
    with conn.cursor(name="fingerprint") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT chunk_id, text_hash, doc_id, array_to_string(tags, ',') FROM chunks"
            " ORDER BY chunk_id"
        )
        for row in cur:
            digest.update("\x1f".join(row).encode())
            digest.update(b"\x1e")
    return digest.hexdigest()


def _pending(conn: psycopg.Connection) -> str | None:
    """The model a pending rebuild is building (the index serves the recorded one)."""
    from netdocs.store.generation import pending_model

    pending = pending_model(conn)
    return pending[0] if pending else None


def status(
    conn: psycopg.Connection, stale_max_age: timedelta = timedelta(days=7)
) -> dict[str, Any]:
    """The ``netdocs status`` facts (``stale``: documents served from an older version)."""
    model = recorded_model(conn)
    docs = conn.execute("SELECT count(*) FROM documents").fetchone()
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()
    last = conn.execute(
        "SELECT run_id, status FROM runs WHERE finished_at IS NOT NULL"
        " ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    quarantined = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    stored = load_stored_policy(conn)
    result = {
        "documents": int(docs[0]) if docs else 0,
        "chunks": int(chunks[0]) if chunks else 0,
        "embedding_model": model[0] if model else None,
        "embedding_dim": model[1] if model else None,
        "last_run_id": str(last[0]) if last else None,
        "last_run_status": last[1] if last else None,
        "quarantined": int(quarantined[0]) if quarantined else 0,
        "index_fingerprint": fingerprint(conn),
        "breakers": load_breakers(conn),
        "policy_sha256": stored.sha256 if stored else None,
        "stale": [s.to_json() for s in list_stale(conn, stale_max_age)],
        "embedding_rebuild_pending": _pending(conn),  # branch model
    }
    conn.commit()
    return result
