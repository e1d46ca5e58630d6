"""Writes to the index: one document version per transaction, metadata updates, deletes.

``commit_document`` runs only after the document's embeddings exist. In one transaction it
inserts the new chunks, removes the stale ones, and records the content hash and run id, so
a crash leaves the previous complete version or the new one, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import psycopg

from netdocs.embedding.base import Vectors
from netdocs.ingest.lock import check_fence
from netdocs.safetext import json_safe
from netdocs.sources import meta_hash
from netdocs.types import Chunk, FileStat, SourceDoc, StoredDoc

_STAT_COLUMNS = "file_size, file_mtime_ns, file_ctime_ns, file_ino, file_seen_ns, declared_tags"


@dataclass
class CommitStats:
    """What one document commit did."""

    inserted: int = 0
    kept: int = 0
    deleted: int = 0


def load_state(conn: psycopg.Connection) -> dict[str, StoredDoc]:
    """Every committed document's hashes, with its file's recorded stat (if any)."""
    rows = conn.execute(f"SELECT doc_id, content_hash, meta_hash, {_STAT_COLUMNS} FROM documents")
    out = {}
    for r in rows:  # one row at a time: no list of every row beside the records
        rec = None if None in r[3:8] else FileStat(r[3], r[4], r[5], int(r[6]), r[7])
        declared = None if r[8] is None else tuple(r[8])
        out[r[0]] = StoredDoc(r[0], r[1], r[2], rec, declared)
    return out


def _stat_row(doc: SourceDoc) -> tuple[object, ...]:
    st = doc.stat
    if st is None:
        return (None,) * 6
    return (st.size, st.mtime_ns, st.ctime_ns, st.ino, st.seen_ns, list(doc.declared_tags))


def record_file_stats(conn: psycopg.Connection, docs: Sequence[SourceDoc]) -> int:
    """Record the file stats of documents read and found unchanged (their stored content
    hash is the one read), so the next scan can skip reading them; returns the rows set."""
    rows = [(d.doc_id, d.content_hash, *_stat_row(d)) for d in docs if d.stat is not None]
    if not rows:
        return 0
    columns = list(zip(*rows, strict=True))
    with conn.transaction():
        cur = conn.execute(
            "UPDATE documents d SET file_size = u.size, file_mtime_ns = u.mtime,"
            " file_ctime_ns = u.ctime, file_ino = u.ino, file_seen_ns = u.seen,"
            " declared_tags = ARRAY(SELECT jsonb_array_elements_text(u.declared::jsonb))"
            " FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[],"
            " %s::numeric[], %s::bigint[], %s::text[]) AS u(doc_id, hash, size, mtime, ctime,"
            " ino, seen, declared) WHERE d.doc_id = u.doc_id AND d.content_hash = u.hash",
            [list(c) for c in columns[:7]] + [[json.dumps(tags) for tags in columns[7]]],
        )
        return cur.rowcount


def load_quarantine(conn: psycopg.Connection) -> dict[str, tuple[str, str, list[object]]]:
    """Quarantined documents: doc_id -> (content_hash, meta_hash, reasons)."""
    rows = conn.execute("SELECT doc_id, content_hash, meta_hash, reasons FROM quarantine")
    return {r[0]: (r[1], r[2], r[3]) for r in rows.fetchall()}


def existing_chunk_ids(conn: psycopg.Connection, doc_ids: Sequence[str]) -> set[str]:
    """Chunk ids already stored for these documents."""
    rows = conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ANY(%s)", (list(doc_ids),))
    return {r[0] for r in rows.fetchall()}


def commit_document(
    conn: psycopg.Connection,
    doc: SourceDoc,
    chunks: Sequence[Chunk],
    vectors: Vectors,
    run_id: UUID,
) -> CommitStats:
    """Replace the stored version of ``doc`` by ``chunks`` in one transaction."""
    stats = CommitStats()
    ids = [c.chunk_id for c in chunks]
    tags = list(doc.tags)
    with conn.transaction(), conn.cursor() as cur:
        check_fence(cur)  # a run whose lock another run has taken commits nothing more
        cur.execute(
            "INSERT INTO documents (doc_id, content_hash, meta_hash, tags, chunk_count, run_id,"
            f" {_STAT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (doc_id) DO UPDATE SET"
            " content_hash = EXCLUDED.content_hash, meta_hash = EXCLUDED.meta_hash,"
            " tags = EXCLUDED.tags, chunk_count = EXCLUDED.chunk_count,"
            " run_id = EXCLUDED.run_id, updated_at = now(),"
            " stale_since = NULL, stale_reason = NULL, file_size = EXCLUDED.file_size,"
            " file_mtime_ns = EXCLUDED.file_mtime_ns, file_ctime_ns = EXCLUDED.file_ctime_ns,"
            " file_ino = EXCLUDED.file_ino, file_seen_ns = EXCLUDED.file_seen_ns,"
            " declared_tags = EXCLUDED.declared_tags",
            (doc.doc_id, doc.content_hash, doc.meta_hash, tags, len(chunks), run_id)
            + _stat_row(doc),
        )
        cur.execute(
            "DELETE FROM chunks WHERE doc_id = %s AND NOT (chunk_id = ANY(%s))",
            (doc.doc_id, ids),
        )
        stats.deleted = cur.rowcount
        cur.execute("SELECT chunk_id, ordinal FROM chunks WHERE doc_id = %s", (doc.doc_id,))
        kept: dict[str, int] = dict(cur.fetchall())
        stats.kept = len(kept)
        moved = [(c.ordinal, tags, c.chunk_id) for c in chunks if c.chunk_id in kept]
        if moved:
            cur.executemany(
                "UPDATE chunks SET ordinal = %s, tags = %s, stale_since = NULL WHERE chunk_id = %s",
                moved,
            )
        rows = [
            (
                c.chunk_id,
                doc.doc_id,
                c.ordinal,
                list(c.heading_path),
                c.heading,
                c.text,
                c.text_hash,
                c.token_count,
                tags,
                vectors[i],
            )
            for i, c in enumerate(chunks)
            if c.chunk_id not in kept
        ]
        if rows:
            cur.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, heading_path, heading, text,"
                " text_hash, token_count, tags, embedding)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        stats.inserted = len(rows)
        cur.execute("DELETE FROM quarantine WHERE doc_id = %s", (doc.doc_id,))
    return stats


def update_metadata(conn: psycopg.Connection, doc: SourceDoc, run_id: UUID) -> None:
    """Tags changed, text did not: update the stored rows, no re-embedding."""
    retag(conn, doc.doc_id, doc.tags, run_id)


def retag(conn: psycopg.Connection, doc_id: str, tags: Sequence[str], run_id: UUID) -> None:
    """Give the stored version of ``doc_id`` (document row and chunks) ``tags``, whatever
    its content; the content hash is kept, so a changed text is still re-processed."""
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET meta_hash = %s, tags = %s, run_id = %s, updated_at = now()"
            " WHERE doc_id = %s",
            (meta_hash(tags), list(tags), run_id, doc_id),
        )
        conn.execute("UPDATE chunks SET tags = %s WHERE doc_id = %s", (list(tags), doc_id))


#: The content hash of a document whose chunks follow older chunking rules: no file hashes
#: to it, so the next run that reads the file re-chunks it (and the stat fast path is off).
RECHUNK = "rechunk"


def mark_rechunk(conn: psycopg.Connection, doc_ids: Sequence[str]) -> None:
    """Mark ``doc_ids`` as chunked by older rules (the caller's transaction)."""
    if doc_ids:
        conn.execute(
            "UPDATE documents SET content_hash = %s, file_size = NULL, file_mtime_ns = NULL,"
            " file_ctime_ns = NULL, file_ino = NULL, file_seen_ns = NULL WHERE doc_id = ANY(%s)",
            (RECHUNK, list(doc_ids)),
        )


def delete_documents(conn: psycopg.Connection, doc_ids: Sequence[str]) -> int:
    """Delete documents (their chunks cascade); returns the number of chunks removed."""
    if not doc_ids:
        return 0
    with conn.transaction():
        n = conn.execute(
            "SELECT count(*) FROM chunks WHERE doc_id = ANY(%s)", (list(doc_ids),)
        ).fetchone()
        conn.execute("DELETE FROM documents WHERE doc_id = ANY(%s)", (list(doc_ids),))
        conn.execute("DELETE FROM quarantine WHERE doc_id = ANY(%s)", (list(doc_ids),))
    return int(n[0]) if n else 0


def quarantine(
    conn: psycopg.Connection, doc: SourceDoc, reasons: list[dict[str, object]], run_id: UUID
) -> None:
    """Record a document rejected by the quality gate (its indexed version stays)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO quarantine (doc_id, content_hash, meta_hash, reasons, run_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (doc_id) DO UPDATE SET"
            " content_hash = EXCLUDED.content_hash, meta_hash = EXCLUDED.meta_hash,"
            " reasons = EXCLUDED.reasons, run_id = EXCLUDED.run_id, created_at = now()",
            (doc.doc_id, doc.content_hash, doc.meta_hash, json.dumps(reasons), run_id),
        )


def start_run(conn: psycopg.Connection, run_id: UUID, source: str) -> None:
    """Record the start of an ingest run."""
    with conn.transaction():
        conn.execute("INSERT INTO runs (run_id, source) VALUES (%s, %s)", (run_id, source))


def finish_run(
    conn: psycopg.Connection, run_id: UUID, status: str, stats: dict[str, object]
) -> None:
    """Record the end of an ingest run with its summary."""
    with conn.transaction():
        conn.execute(
            "UPDATE runs SET finished_at = now(), status = %s, stats = %s WHERE run_id = %s",
            (status, json.dumps(json_safe(stats), default=str), run_id),
        )
