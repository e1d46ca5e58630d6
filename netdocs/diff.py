"""The hash-diff: what changed between a scan and the index (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from netdocs.types import ChangeSet


def diff(
    scanned: Mapping[str, tuple[str, str]],
    stored: Mapping[str, tuple[str, str]],
    *,
    unreadable: Collection[str] = (),
    full: bool = False,
) -> ChangeSet:
    """Classify documents; both mappings are ``doc_id -> (content_hash, meta_hash)``.

    ============  ==========  ===============  ============  ==================
    in scan       in index    content hash     meta hash     result
    ============  ==========  ===============  ============  ==================
    yes           no          -                -             new
    yes           yes         differs          any           changed
    yes           yes         same             differs       metadata_only
    yes           yes         same             same          unchanged
                                                             (changed if full)
    unreadable    yes         -                -             kept, no class
    no            yes         -                -             deleted
    ============  ==========  ===============  ============  ==================

    ``unreadable`` ids were found on disk but could not be read: they are neither processed
    nor deleted, so the index keeps their previous version.
    """
    new, changed, unchanged, meta_only = [], [], [], []
    for doc_id, (content, meta) in scanned.items():
        old = stored.get(doc_id)
        if old is None:
            new.append(doc_id)
        elif old[0] != content or full:
            changed.append(doc_id)
        elif old[1] != meta:
            meta_only.append(doc_id)
        else:
            unchanged.append(doc_id)
    skip = set(unreadable)
    deleted = [d for d in stored if d not in scanned and d not in skip]
    return ChangeSet(
        new=tuple(sorted(new)),
        changed=tuple(sorted(changed)),
        unchanged=tuple(sorted(unchanged)),
        metadata_only=tuple(sorted(meta_only)),
        deleted=tuple(sorted(deleted)),
    )
