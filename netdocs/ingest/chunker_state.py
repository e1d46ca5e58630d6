"""Which chunking rules built the index: a signature in ``index_meta``, so that an upgrade
that moves chunk boundaries (``netdocs.chunking.CHUNKER_VERSION``) or a new
NETDOCS_CHUNK_MAX_TOKENS re-chunks every document on the next ingest. Re-chunking is cheap
where nothing moved: unchanged chunk texts keep their ids, and changed texts whose vectors
are cached are not sent to the model again."""

from __future__ import annotations

import psycopg

from netdocs.chunking import CHUNKER_VERSION

KEY = "chunker"


def signature(max_tokens: int) -> str:
    """The chunking rules and size limit an index is built with."""
    return f"v{CHUNKER_VERSION}/max{int(max_tokens)}"


def recorded(conn: psycopg.Connection) -> str | None:
    """The signature the index's chunks were built with (None: before signatures)."""
    row = conn.execute("SELECT value FROM index_meta WHERE key = %s", (KEY,)).fetchone()
    return None if row is None else str(row[0])


def needs_rechunk(stored: str | None, current: str, stored_docs: int) -> bool:
    """True when indexed documents were chunked by other rules (or by unrecorded ones)."""
    return stored_docs > 0 and stored != current


def record(conn: psycopg.Connection, sig: str) -> None:
    """Record ``sig`` as the index's chunking signature."""
    conn.execute(
        "INSERT INTO index_meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (KEY, sig),
    )
