"""Reconciliation: compare the documents table with the stored chunks and report drift.

    check(conn)                find drift (read-only)
    check(conn, repair=True)   also fix it, saying what was done:
      chunk_count mismatch / document without chunks / chunks of the wrong dimension
                               -> delete the document row (its chunks go with it), so the
                                  next ingest re-processes the file
      chunks of unknown documents -> deleted
      quarantine row of a document indexed with the same content -> deleted
      missing HNSW index       -> rebuilt (after the fixes above)

The report also lists the documents served from an older version (``stale``: unreadable,
quarantined or failed files whose previous version is kept; withdrawn from results after
NETDOCS_STALE_MAX_AGE). They are not drift: the next ingest of a fixed file clears them.

Both hold the ingest lock (an ingest drops the HNSW index during bulk loads and writes
documents one by one, so checking during a run would report work in progress as drift).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import psycopg

from netdocs.store.schema import _index_name, ensure_vector_index, recorded_model
from netdocs.store.stale import StaleDoc, list_stale

BROKEN_DOCUMENT = ("chunk_count_mismatch", "document_without_chunks", "wrong_dimension")


@dataclass(frozen=True)
class Drift:
    """One inconsistency: its kind, the document concerned (if any), details."""

    kind: str
    doc_id: str | None
    detail: str


@dataclass
class CheckReport:
    """What ``netdocs check`` found and (with ``--repair``) did."""

    drift: list[Drift] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    repair: bool = False
    stale: list[StaleDoc] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No drift, or every drift repaired."""
        return not self.drift or self.repair

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "clean": not self.drift,
            "drift": [asdict(d) for d in self.drift],
            "repaired": self.repaired,
            "stale": [s.to_json() for s in self.stale],
        }

    def to_markdown(self) -> str:
        """The report as a Markdown summary (the reconcile flow's artifact)."""
        lines = ["# netdocs reconciliation", ""]
        if not self.drift:
            lines.append("Index consistent: no drift.")
        else:
            lines += [f"**{len(self.drift)} problem(s)**", "", "| kind | document | detail |"]
            lines.append("|---|---|---|")
            for d in self.drift:
                lines.append(f"| {d.kind} | {_cell(d.doc_id or '')} | {_cell(d.detail)} |")
            if self.repair:
                lines += ["", "Repaired:", *(f"- {_cell(r)}" for r in self.repaired)]
            else:
                lines += ["", "Fix with `netdocs check --repair`."]
        if self.stale:
            lines += ["", f"{len(self.stale)} document(s) served from an older version:"]
            lines += [f"- {_cell(s.doc_id)}: {_cell(s.reason)}" for s in self.stale]
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def find_drift(conn: psycopg.Connection) -> list[Drift]:
    """Every inconsistency between documents, chunks, quarantine and the vector index."""
    drift: list[Drift] = []
    for doc_id, recorded, stored in conn.execute(
        "SELECT d.doc_id, d.chunk_count, count(c.chunk_id) FROM documents d"
        " LEFT JOIN chunks c USING (doc_id) GROUP BY d.doc_id, d.chunk_count"
        " HAVING count(c.chunk_id) <> d.chunk_count ORDER BY 1"
    ):
        kind = "document_without_chunks" if stored == 0 else "chunk_count_mismatch"
        drift.append(Drift(kind, doc_id, f"{recorded} chunks recorded, {stored} stored"))
    for doc_id, n in conn.execute(
        "SELECT c.doc_id, count(*) FROM chunks c WHERE NOT EXISTS"
        " (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id) GROUP BY 1 ORDER BY 1"
    ):
        drift.append(Drift("orphan_chunks", doc_id, f"{n} chunks of an unknown document"))
    model = recorded_model(conn)
    if model is not None:
        model_id, dim = model
        for doc_id, n, dims in conn.execute(
            "SELECT doc_id, count(*), array_agg(DISTINCT vector_dims(embedding)) FROM chunks"
            " WHERE vector_dims(embedding) <> %s GROUP BY 1 ORDER BY 1",
            (dim,),
        ):
            drift.append(
                Drift(
                    "wrong_dimension",
                    doc_id,
                    f"{n} chunks of dimension {sorted(dims)}; {model_id} has {dim}",
                )
            )
        present = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = 'chunks' AND indexname = %s",
            (_index_name(dim),),
        ).fetchone()
        if not present:
            drift.append(
                Drift("missing_vector_index", None, f"HNSW index {_index_name(dim)} is missing")
            )
    for (doc_id,) in conn.execute(
        "SELECT q.doc_id FROM quarantine q JOIN documents d USING (doc_id)"
        " WHERE q.content_hash = d.content_hash ORDER BY 1"
    ):
        drift.append(
            Drift("stale_quarantine", doc_id, "quarantined, yet indexed with the same content")
        )
    conn.commit()
    return drift


def repair(conn: psycopg.Connection, drift: list[Drift]) -> list[str]:
    """Fix ``drift`` (see the module docstring); returns what was done, one line each."""
    done: list[str] = []
    broken = sorted({d.doc_id for d in drift if d.kind in BROKEN_DOCUMENT and d.doc_id})
    orphans = sorted({d.doc_id for d in drift if d.kind == "orphan_chunks" and d.doc_id})
    stale = sorted({d.doc_id for d in drift if d.kind == "stale_quarantine" and d.doc_id})
    with conn.transaction():
        for doc_id in broken:
            cur = conn.execute("DELETE FROM chunks WHERE doc_id = %s", (doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id = %s", (doc_id,))
            done.append(
                f"{doc_id}: document row and {cur.rowcount} chunks deleted; "
                "the next ingest re-processes it"
            )
        for doc_id in orphans:
            cur = conn.execute("DELETE FROM chunks WHERE doc_id = %s", (doc_id,))
            done.append(f"{doc_id}: {cur.rowcount} orphan chunks deleted")
        for doc_id in stale:
            conn.execute("DELETE FROM quarantine WHERE doc_id = %s", (doc_id,))
            done.append(f"{doc_id}: stale quarantine row deleted")
    if any(d.kind == "missing_vector_index" for d in drift):
        model = recorded_model(conn)
        if model is not None:
            with conn.transaction():
                ensure_vector_index(conn, model[1])
            done.append(f"HNSW index {_index_name(model[1])} rebuilt")
    conn.commit()
    return done


def check(
    conn: psycopg.Connection,
    *,
    repair_drift: bool = False,
    stale_max_age: timedelta = timedelta(days=7),
) -> CheckReport:
    """Find drift and, when asked, repair it; list the stale documents."""
    report = CheckReport(drift=find_drift(conn), repair=repair_drift)
    if repair_drift and report.drift:
        report.repaired = repair(conn, report.drift)
    report.stale = list_stale(conn, stale_max_age)
    conn.commit()
    return report
