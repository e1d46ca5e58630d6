"""File links inside the docs root: indexed under their own path only when that path shows
the file to no one its own path would not (pure logic over the policy, one lstat).

A link is a second name for a file, and the tags (and the NETDOCS_INCLUDE/EXCLUDE selection)
come from the name. Anyone who may write in a folder a role can read could otherwise link a
file it may not read (creating a link needs no read access to the target) and have it indexed
under the folder's tags, or bring an excluded file in under an included name.

The check runs at the scan and again when a file is read, on the very path the read opens
(it follows no link): a file swapped for a link between the two is judged by the same rule.

Hard links are other names the root cannot see. Where the kernel protects them
(``fs.protected_hardlinks = 1``, the default of current Linux distributions) only the owner of
a file, or someone who may read and write it, can link it, and they could as well copy it, so
a hard link grants nothing. Where that is off or unknown, a file with more than one name is
refused: it could be any file on the file system.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from netdocs.policy import Policy
from netdocs.safetext import safe_name

#: the kernel setting read by hardlink_refusal (a module attribute so a test can point it)
PROTECTED_HARDLINKS = "/proc/sys/fs/protected_hardlinks"


def hardlink_refusal(links: int) -> str | None:
    """Why a file with ``links`` names may not be read, or None (see the module notes)."""
    if links <= 1:
        return None
    try:
        with open(PROTECTED_HARDLINKS, encoding="ascii") as fh:
            protected = fh.read().strip() == "1"
    except (OSError, ValueError):
        protected = False  # unknown (not Linux, no /proc): fail closed
    if protected:
        return None
    return (
        f"the file has {links} hard links and the kernel does not protect hard links "
        "(fs.protected_hardlinks is not 1): it could be a file from anywhere on the file "
        "system; not indexed (copy it, or set fs.protected_hardlinks = 1)"
    )


class LinkRefused(ValueError):
    """A file read through a link that its name may not show (see link_refusal)."""


def link_refusal(
    real_root: str,
    doc_id: str,
    policy: Policy | None,
    selected: Callable[[str], bool],
    real: str | None = None,
) -> str | None:
    """Why the file link ``doc_id`` may not be indexed under its own name, or None (not a
    link, or its name selects it no wider than its target's: the target is selected too, and
    the link's rule tags are among the target's, so any role that sees the link sees the
    target). ``real`` is the real path the caller resolved (and will open), when it has one:
    a path through a linked folder is judged like a file link."""
    path = os.path.join(real_root, doc_id)
    if real is None:
        if not os.path.islink(path):
            return None
        real = os.path.realpath(path)
    elif real == path:
        return None
    target = os.path.relpath(real, real_root).replace(os.sep, "/")
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
