"""Embedding-model generations: a model change is a rebuild beside the served vectors.

The index serves one generation: the model recorded in ``index_meta`` (``embedding_model``,
``embedding_dim``). A run whose configured model differs either refuses (exit 2) or, when
asked (``--reembed``), records the new model as ``pending_embedding_model`` and rebuilds:
the new vectors go to the embedding cache first (nothing served changes), and only when
every chunk has one does :func:`swap` replace the generation in one transaction. A pending
rebuild is continued by later runs with the same configured model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql

from netdocs.chunking import embed_text
from netdocs.embedding.cache import lookup
from netdocs.errors import EmbeddingError, ModelChangeRefused
from netdocs.store import role_indexes
from netdocs.store.schema import _LOCK_KEY, _index_name, ensure_vector_index, recorded_model
from netdocs.store.writer import commit_document, quarantine
from netdocs.types import Chunk, SourceDoc

PENDING_KEY = "pending_embedding_model"


@dataclass(frozen=True)
class Rebuild:
    """A rebuild from the served model to the configured one."""

    old_model: str
    old_dim: int
    new_model: str
    new_dim: int

    def describe(self) -> str:
        """``old (d) -> new (d)``."""
        return f"{self.old_model} ({self.old_dim}-d) -> {self.new_model} ({self.new_dim}-d)"


def pending_model(conn: psycopg.Connection) -> tuple[str, int] | None:
    """The model a rebuild is building, if one is pending."""
    row = conn.execute("SELECT value FROM index_meta WHERE key = %s", (PENDING_KEY,)).fetchone()
    if row is None:
        return None
    model_id, _, dim = str(row[0]).rpartition("|")
    return model_id, int(dim)


def _record(conn: psycopg.Connection, model_id: str, dim: int) -> None:
    conn.execute(
        "INSERT INTO index_meta (key, value) VALUES ('embedding_model', %s), "
        "('embedding_dim', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (model_id, str(dim)),
    )


def prepare_model(
    conn: psycopg.Connection, model_id: str, dim: int, *, reembed: bool
) -> Rebuild | None:
    """Record the model of a new index, or decide what a different model means.

    Same model (or none recorded yet, or an index without chunks): None, and any pending
    rebuild to another model is abandoned. A different model: a :class:`Rebuild` when
    ``reembed`` is set or a rebuild to this model is already pending; otherwise
    :class:`ModelChangeRefused`. Nothing served changes here.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        current = recorded_model(conn)
        if current is None or current == (model_id, dim):
            conn.execute("DELETE FROM index_meta WHERE key = %s", (PENDING_KEY,))
            ensure_vector_index(conn, dim)  # it may have been dropped for a bulk load
            if current is None:
                _record(conn, model_id, dim)
            return None
        old_model, old_dim = current
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM chunks)").fetchone() == (True,):
            conn.execute(f"DROP INDEX IF EXISTS {_index_name(old_dim)}")  # nothing to rebuild
            role_indexes.drop_all(conn)
            conn.execute("DELETE FROM index_meta WHERE key = %s", (PENDING_KEY,))
            ensure_vector_index(conn, dim)
            _record(conn, model_id, dim)
            return None
        if not reembed and pending_model(conn) != (model_id, dim):
            raise ModelChangeRefused(
                f"the index was built with {old_model} ({old_dim}-d) but the configured "
                f"embedding model is {model_id} ({dim}-d); nothing was changed and the index "
                f"keeps serving {old_model}. Re-run with --reembed to build the new vectors "
                "beside the old ones (the old ones serve until the new set is complete), or "
                "set NETDOCS_EMBEDDING_PROVIDER back"
            )
        conn.execute(
            "INSERT INTO index_meta (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (PENDING_KEY, f"{model_id}|{dim}"),
        )
        return Rebuild(old_model, old_dim, model_id, dim)


@dataclass(frozen=True)
class StoredChunk:
    """A served chunk whose text is re-embedded as it is (its document was not rebuilt)."""

    doc_id: str
    embed_text: str
    text_hash: str


def stored_chunks(conn: psycopg.Connection, keep: Sequence[str]) -> list[StoredChunk]:
    """The served chunks of documents the rebuild keeps as they are (unreadable, rejected)."""
    rows = conn.execute(
        "SELECT doc_id, heading_path, text, text_hash FROM chunks WHERE doc_id = ANY(%s)"
        " ORDER BY doc_id, ordinal",
        (list(keep),),
    ).fetchall()
    conn.commit()
    return [StoredChunk(d, embed_text(tuple(hp), t), h) for d, hp, t, h in rows]


def _stored_columns(conn: psycopg.Connection) -> list[str]:
    """The chunks table's columns except generated ones (``tsv``), in table order."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'chunks'::regclass"
        " AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"
    ).fetchall()
    return [r[0] for r in rows]


class RebuildIncomplete(EmbeddingError):
    """A vector of the new model is missing: the swap is rolled back."""


@dataclass
class SwapStats:
    """What the swap did."""

    documents: int = 0  # documents replaced by their new version
    kept: int = 0  # chunks of kept documents given new vectors
    quarantined: int = 0


def swap(
    conn: psycopg.Connection,
    rebuild: Rebuild,
    ready: Sequence[tuple[SourceDoc, Sequence[Chunk]]],
    rejected: dict[str, tuple[SourceDoc, list[dict[str, object]]]],
    run_id: UUID,
) -> SwapStats:
    """Replace the served generation by the new one in ONE transaction.

    ``ready`` documents get their new chunks; every other served chunk keeps its row with
    its new vector from the cache; the HNSW index is rebuilt for the new dimension and the
    new model recorded. A missing vector raises :class:`RebuildIncomplete` and nothing
    changes. Queries wait for the commit (the swap locks the table), then see the new
    generation.
    """
    stats = SwapStats()
    ids = [d.doc_id for d, _ in ready]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if recorded_model(conn) != (rebuild.old_model, rebuild.old_dim):
            raise RebuildIncomplete("the index's model changed during the rebuild")
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in _stored_columns(conn))
        # Kept chunks are copied out with their new vectors, then the table is TRUNCATEd
        # (not DELETEd: the new HNSW index must not see the old rows, which a DELETE in
        # this transaction would leave for the index build to read) and refilled.
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE swap_keep ON COMMIT DROP AS"
                " SELECT {} FROM chunks WHERE NOT (doc_id = ANY(%s))"
            ).format(cols),
            (ids,),
        )
        cur = conn.execute(
            "UPDATE swap_keep k SET embedding = e.embedding FROM embedding_cache e"
            " WHERE e.model_id = %s AND e.text_sha256 = k.text_hash",
            (rebuild.new_model,),
        )
        stats.kept = cur.rowcount
        left = conn.execute("SELECT count(*) FROM swap_keep").fetchone()
        if left is None or left[0] != stats.kept:
            raise RebuildIncomplete(
                f"{(left[0] if left else 0) - stats.kept} kept chunk(s) have no vector of "
                f"{rebuild.new_model}"
            )
        conn.execute(f"DROP INDEX IF EXISTS {_index_name(rebuild.old_dim)}")
        conn.execute(f"DROP INDEX IF EXISTS {_index_name(rebuild.new_dim)}")
        role_indexes.drop_all(conn)  # built again by the next ingest's sync
        conn.execute("TRUNCATE chunks")
        conn.execute(sql.SQL("INSERT INTO chunks ({0}) SELECT {0} FROM swap_keep").format(cols))
        for doc, chunks in ready:
            found = lookup(conn, rebuild.new_model, [c.text_hash for c in chunks])
            if any(c.text_hash not in found for c in chunks):
                raise RebuildIncomplete(f"{doc.doc_id}: a vector of {rebuild.new_model} is missing")
            vectors = (  # an emptied file (no chunks) is a version too
                np.stack([found[c.text_hash] for c in chunks])
                if chunks
                else np.empty((0, rebuild.new_dim), dtype=np.float32)
            )
            commit_document(conn, doc, chunks, vectors, run_id)
            stats.documents += 1
        for doc, reasons in rejected.values():
            quarantine(conn, doc, reasons, run_id)
            stats.quarantined += 1
        ensure_vector_index(conn, rebuild.new_dim)
        _record(conn, rebuild.new_model, rebuild.new_dim)
        conn.execute("DELETE FROM index_meta WHERE key = %s", (PENDING_KEY,))
    conn.execute("ANALYZE chunks")
    conn.commit()
    return stats
