"""The policy `netdocs serve` applies when NETDOCS_POLICY names a file (pure).

The chunks' tags follow the policy the index stores (the last ingest's). A policy file edited
since then may rename tags or widen a role: applied as is to the old tags it could show a
role documents neither policy meant it to see. So until an ingest stores the file's policy
(and re-tags, in the same transaction), a role must exist in both policies and sees only the
tags both allow: revoking access in the file applies at once, granting waits for the ingest.
An index whose documents were tagged by no policy at all (front matter kept as written) is
not served under one.
"""

from __future__ import annotations

from dataclasses import replace

from netdocs.errors import ConfigError
from netdocs.policy import WILDCARD, Policy


def _both(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    """The tags two allow lists both grant ("*" grants whatever the other does)."""
    if WILDCARD in a:
        return b
    if WILDCARD in b:
        return a
    return a & b


def in_force(file: Policy, stored: Policy | None, has_documents: bool) -> Policy:
    """``file``'s policy narrowed to what ``stored`` (the index's) also grants; ConfigError
    for an index with documents but no stored policy (their tags followed none)."""
    if stored is None:
        if has_documents:
            raise ConfigError(
                "the index stores no access policy: its documents were tagged without one "
                "(front-matter tags kept as written), so no role can be checked against "
                "them; run `netdocs ingest DOCS --policy FILE` first"
            )
        return file
    if stored.sha256 == file.sha256:
        return file
    roles = {r: _both(tags, stored.roles[r]) for r, tags in file.roles.items() if r in stored.roles}
    note = "limited to the stored policy's grants until an ingest stores it"
    return replace(file, roles=roles, source=f"{file.source} ({note})")
