"""Path scopes of backfills (``netdocs ingest PATH --only 'routing/**'``), pure logic.

A scope is a list of gitignore-style globs relative to the docs root. A document is inside
when a pattern matches its path or one of its folders (``routing``, ``routing/`` and
``routing/**`` all mean the folder ``routing``). A scoped run scans, processes, retags,
marks stale and deletes only documents inside; the mass-delete share is counted against
the indexed documents inside the scope. No patterns (``None`` or empty) = the whole root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from netdocs.errors import ConfigError
from netdocs.policy import glob_match

V = TypeVar("V")
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_patterns(patterns: Iterable[str] | None) -> tuple[str, ...]:
    """The patterns normalised (``./`` dropped, ``dir/`` -> ``dir/**``), or ConfigError
    naming the first pattern that is empty, absolute or climbs out of the root (``..``)."""
    out: list[str] = []
    for raw in patterns or ():
        if not isinstance(raw, str):
            raise ConfigError(f"--only {raw!r}: a pattern must be a string")
        p = raw.strip()
        while p.startswith("./"):
            p = p[2:]
        if not p or p == ".":
            raise ConfigError(f"--only {raw!r}: empty pattern (leave --only out for everything)")
        if p.startswith(("/", "~", "\\")) or _DRIVE.match(p):
            raise ConfigError(
                f"--only {raw!r}: must be relative to the docs root, not an absolute path"
            )
        if "\\" in p:
            raise ConfigError(f"--only {raw!r}: use '/' between folders")
        if ".." in p.split("/"):
            raise ConfigError(f"--only {raw!r}: '..' would leave the docs root")
        if p.endswith("/"):
            p += "**"
        if p not in out:
            out.append(p)
    return tuple(out)


def in_scope(doc_id: str, patterns: Sequence[str]) -> bool:
    """True when ``doc_id`` lies inside the scope (always, without patterns)."""
    if not patterns:
        return True
    parts = doc_id.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
    return any(glob_match(p, prefix) for p in patterns for prefix in prefixes)


def restrict(items: Mapping[str, V], patterns: Sequence[str]) -> dict[str, V]:
    """The entries of ``items`` (keyed by document id) inside the scope."""
    return {k: v for k, v in items.items() if in_scope(k, patterns)}


def describe(patterns: Sequence[str]) -> str:
    """A one-line description of the scope for summaries and logs."""
    return ", ".join(patterns) if patterns else "everything"
