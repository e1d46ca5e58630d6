"""Scan + hash-diff + guards: decide what a run will do before it does anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from netdocs.diff import diff
from netdocs.errors import MassDeleteRefused
from netdocs.policy import Policy
from netdocs.sources import ScanResult, scan
from netdocs.store.writer import load_quarantine, load_state
from netdocs.types import ChangeSet, DocFailure, SourceDoc


@dataclass
class Plan:
    """The work of one run."""

    scan: ScanResult
    changes: ChangeSet
    stored_count: int
    to_process: list[str]  # new + changed, minus documents still quarantined as they are
    still_quarantined: list[DocFailure]

    @property
    def postponed(self) -> list[str]:
        """Deleted documents under a folder the scan could not finish: kept this run."""
        return [d for d in self.changes.deleted if self.scan.held_back(d)]

    @property
    def docs(self) -> dict[str, SourceDoc]:
        """Scanned documents by id."""
        return {d.doc_id: d for d in self.scan.docs}


def make_plan(
    conn: psycopg.Connection,
    root: Path,
    policy: Policy | None,
    *,
    include: list[str],
    exclude: list[str],
    max_bytes: int,
    full: bool = False,
) -> Plan:
    """Scan ``root`` and diff it against the index."""
    result = scan(root, policy, include=include, exclude=exclude, max_bytes=max_bytes)
    stored = load_state(conn)
    quarantined = load_quarantine(conn)
    conn.commit()
    changes = diff(
        {d.doc_id: (d.content_hash, d.meta_hash) for d in result.docs},
        {k: (v.content_hash, v.meta_hash) for k, v in stored.items()},
        unreadable=result.unreadable,
        full=full,
    )
    docs = {d.doc_id: d for d in result.docs}
    to_process, still = [], []
    for doc_id in (*changes.new, *changes.changed):
        q = quarantined.get(doc_id)
        doc = docs[doc_id]
        if q is not None and not full and (q[0], q[1]) == (doc.content_hash, doc.meta_hash):
            still.append(DocFailure(doc_id, f"quarantined (unchanged since): {_reasons(q[2])}"))
        else:
            to_process.append(doc_id)
    return Plan(result, changes, len(stored), to_process, still)


def _reasons(reasons: list[object]) -> str:
    parts = []
    for r in reasons[:3]:
        parts.append(str(r.get("message", r)) if isinstance(r, dict) else str(r))
    return "; ".join(parts)


def check_deletes(plan: Plan, *, max_ratio: float, allow_mass_delete: bool) -> list[str]:
    """The ids this run may delete; refuses unusual shares.

    Documents under a folder the walk could not finish are not deleted (``plan.postponed``;
    the caller reports them); the rest of the scan's deletions go ahead.
    """
    held = set(plan.postponed)
    deleted = [d for d in plan.changes.deleted if d not in held]
    if not deleted:
        return []
    share = len(deleted) / max(plan.stored_count, 1)
    if share > max_ratio and not allow_mass_delete:
        raise MassDeleteRefused(
            f"this run would delete {len(deleted)} of {plan.stored_count} indexed documents "
            f"({share:.0%}, limit {max_ratio:.0%}); nothing was changed. Check the path, or "
            "re-run with --allow-mass-delete if this is intended"
        )
    return deleted
