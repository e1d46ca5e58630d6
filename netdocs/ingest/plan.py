"""Scan + hash-diff + guards: decide what a run will do before it does anything."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from netdocs.diff import diff
from netdocs.errors import MassDeleteRefused
from netdocs.ingest import chunker_state
from netdocs.ingest.scope import describe, in_scope, restrict
from netdocs.policy import Policy
from netdocs.sources import ScanResult, meta_hash, scan
from netdocs.store.writer import load_quarantine, load_state, record_file_stats
from netdocs.types import ChangeSet, DocFailure, SourceDoc


@dataclass
class Plan:
    """The work of one run."""

    scan: ScanResult
    changes: ChangeSet
    stored_count: int  # indexed documents inside the run's scope
    to_process: list[str]  # new + changed, minus documents still quarantined as they are
    still_quarantined: list[DocFailure]
    #: Indexed documents whose tags differ from what the current policy and path (and the
    #: allowed front matter, when readable) give: doc_id -> tags. Applied before any
    #: embedding, whatever happens to the content (readable, unreadable, quarantined).
    retag: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stored_meta: dict[str, str] = field(default_factory=dict)  # indexed doc_id -> meta hash
    policy: Policy | None = None
    #: (recorded, current) chunking signatures when they differ: every document re-chunked.
    rechunk: tuple[str | None, str] | None = None
    only: tuple[str, ...] = ()  # the path scope (globs); () = the whole root
    index_count: int = 0  # indexed documents in the whole index (scope or not)

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
    chunker: str | None = None,
    only: Sequence[str] = (),
    stat_fast_path: bool = True,
    racy_margin_s: float = 2.0,
) -> Plan:
    """Scan ``root`` and diff it against the index; with ``only`` (a path scope, see
    :mod:`netdocs.ingest.scope`) both sides are the documents inside the scope.

    ``chunker`` (a :func:`chunker_state.signature`) other than the index's recorded one
    makes every indexed document (of the scope) changed: it is re-chunked by the current
    rules (a scoped run does not record the new rules: the rest still follows the old).

    With ``stat_fast_path`` (not with ``full``), files whose stat is the one recorded with
    their indexed content are not read (netdocs.filestat); files read and found unchanged
    get their stat recorded for the next run."""
    scope = tuple(only)

    def keep(doc_id: str) -> bool:
        return in_scope(doc_id, scope)

    everything = load_state(conn)
    conn.commit()
    result = scan(
        root,
        policy,
        include=include,
        exclude=exclude,
        max_bytes=max_bytes,
        keep=keep if scope else None,
        known=everything if stat_fast_path and not full else None,
        racy_margin_s=racy_margin_s,
    )
    result.failures = [f for f in result.failures if keep(f.doc_id)]
    result.vanished = [v for v in result.vanished if keep(v)]
    stored = restrict(everything, scope)
    quarantined = restrict(load_quarantine(conn), scope)
    rechunk = None
    if chunker is not None:
        old = chunker_state.recorded(conn)
        if chunker_state.needs_rechunk(old, chunker, len(everything)):
            rechunk, full = (old, chunker), True
        elif not everything and old != chunker:  # an empty index: all it gets follows these
            chunker_state.record(conn, chunker)  # rules, even if this run fails in part
    conn.commit()
    changes = diff(
        {d.doc_id: (d.content_hash, d.meta_hash) for d in result.docs},
        {k: (v.content_hash, v.meta_hash) for k, v in stored.items()},
        unreadable=result.unreadable,
        full=full,
    )
    docs = {d.doc_id: d for d in result.docs}
    record_file_stats(
        conn,
        [
            docs[d]
            for d in (*changes.unchanged, *changes.metadata_only)
            if docs[d].stat != stored[d].stat
        ],
    )
    to_process, still = [], []
    for doc_id in (*changes.new, *changes.changed):
        q = quarantined.get(doc_id)
        doc = docs[doc_id]
        if q is not None and not full and (q[0], q[1]) == (doc.content_hash, doc.meta_hash):
            still.append(DocFailure(doc_id, f"quarantined (unchanged since): {_reasons(q[2])}"))
        else:
            to_process.append(doc_id)
    retag = {
        d.doc_id: d.tags
        for d in result.docs
        if d.doc_id in stored and stored[d.doc_id].meta_hash != d.meta_hash
    }
    metas = {k: v.meta_hash for k, v in stored.items()}
    plan = Plan(result, changes, len(stored), to_process, still, retag, metas, policy, rechunk)
    plan.only, plan.index_count = scope, len(everything)
    plan.retag.update(path_retag(plan, [f.doc_id for f in result.failures]))
    return plan


def path_tags(policy: Policy | None, doc_id: str) -> tuple[str, ...]:
    """The tags of a document whose content cannot be read: the current policy's rule tags
    for its path (front matter unknown, so none of it counts)."""
    return policy.document_tags(doc_id)[0] if policy else ()


def path_retag(plan: Plan, doc_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """Retags for indexed documents known only by path (unreadable, or deletion postponed)."""
    out = {}
    for doc_id in doc_ids:
        old = plan.stored_meta.get(doc_id)
        tags = path_tags(plan.policy, doc_id)
        if old is not None and old != meta_hash(tags):
            out[doc_id] = tags
    return out


def stale_reasons(
    plan: Plan,
    failed: list[DocFailure],
    postponed: list[str],
    why_postponed: str,
    held: Collection[str] = (),
) -> dict[str, str]:
    """Indexed documents this run leaves on an older version, with why (first reason);
    ``held``: those read outside the root whose deletion the mass-delete guard held."""
    stale: dict[str, str] = {}
    for f in failed:
        if f.doc_id in plan.stored_meta and (not f.details.get("outside") or f.doc_id in held):
            stale.setdefault(f.doc_id, f.error)
    for doc_id in postponed:
        if doc_id in plan.stored_meta:
            stale.setdefault(doc_id, why_postponed)
    return stale


def read_outside(
    plan: Plan,
    failed: list[DocFailure],
    deletable: list[str],
    *,
    max_ratio: float,
    allow_mass_delete: bool,
) -> tuple[list[str], list[str]]:
    """Indexed documents whose file turned out, when read, to lead out of the root (swapped
    for a link after the scan): ``(delete, hold)``. Deleted like those the scan found so,
    unless with the scan's deletions they pass the mass-delete share: then held (kept
    stale), since files swapped between scan and read must not bypass that guard."""
    planned = set(deletable)
    outside = sorted(
        {
            f.doc_id
            for f in failed
            if f.details.get("outside") and f.doc_id in plan.stored_meta and f.doc_id not in planned
        }
    )
    share = (len(planned) + len(outside)) / max(plan.stored_count, 1)
    if outside and share > max_ratio and not allow_mass_delete:
        return [], outside
    return outside, []


def refused_stale(plan: Plan, why: str) -> dict[str, str]:
    """The indexed documents a refused run leaves as they were although the folder changed
    (edited, deleted, re-tagged): stale with ``why``, so NETDOCS_STALE_MAX_AGE withdraws
    them if runs keep being refused."""
    ch = plan.changes
    return {d: why for d in (*ch.changed, *ch.metadata_only, *ch.deleted) if d in plan.stored_meta}


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
        where = f" inside the scope {describe(plan.only)}" if plan.only else ""
        raise MassDeleteRefused(
            f"this run would delete {len(deleted)} of {plan.stored_count} indexed documents"
            f"{where} ({share:.0%}, limit {max_ratio:.0%}); nothing was changed. Check the "
            "path, or re-run with --allow-mass-delete if this is intended"
        )
    return deleted
