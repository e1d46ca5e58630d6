"""File links inside the docs root: indexed under their own path only when that path shows
the file to no one its own path would not (pure logic over the policy, one lstat).

A link is a second name for a file, and the tags (and the NETDOCS_INCLUDE/EXCLUDE selection)
come from the name. Anyone who may write in a folder a role can read could otherwise link a
file it may not read (creating a link needs no read access to the target) and have it indexed
under the folder's tags, or bring an excluded file in under an included name.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from netdocs.policy import Policy
from netdocs.safetext import safe_name


def link_refusal(
    real_root: str, doc_id: str, policy: Policy | None, selected: Callable[[str], bool]
) -> str | None:
    """Why the file link ``doc_id`` may not be indexed under its own name, or None (not a
    link, or its name selects it no wider than its target's: the target is selected too, and
    the link's rule tags are among the target's, so any role that sees the link sees the
    target)."""
    path = os.path.join(real_root, doc_id)
    if not os.path.islink(path):
        return None
    target = os.path.relpath(os.path.realpath(path), real_root).replace(os.sep, "/")
    if not selected(target):
        return (
            f"symbolic link to {safe_name(target)}, which NETDOCS_EXCLUDE leaves out: not indexed"
        )
    if policy is not None and not set(policy.tags_for(doc_id)) <= set(policy.tags_for(target)):
        return (
            f"symbolic link to {safe_name(target)}: its path would give the file tags "
            f"{sorted(policy.tags_for(doc_id))} that the target's own path does not "
            f"({sorted(policy.tags_for(target))}); not indexed (link a file whose rules give "
            "it at least the link's tags, or index it at its own path)"
        )
    return None
