"""Confinement to the docs root: the walk and every open stay inside it.

The walk never follows a folder link. A link whose real path is outside the root is a
failure ("outside the docs root"), never read; a folder link inside the root is not walked
again (its real folder is walked once, at its own place); a link to one of its own
ancestors is a loop. A folder the walk could not finish (a loop, an unlistable folder) is
*incomplete*: the index keeps the documents under it instead of deleting them. So is a
folder nested more than ``MAX_DEPTH`` levels below the root (the walk is recursive).

:func:`open_beneath` opens a file by its real path one component at a time with
``O_NOFOLLOW``, so a file or folder swapped for a link after the checks is not followed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from netdocs.safetext import is_valid_utf8, safe_name
from netdocs.types import DocFailure

OUTSIDE = "outside the docs root"
BAD_NAME = "file name is not valid UTF-8"
#: Folders deeper than this below the root are not walked (cut, like an unlistable one).
MAX_DEPTH = 100


@dataclass
class Walk:
    """What the walk found: selected file ids, failures, folders not fully walked."""

    files: list[str] = field(default_factory=list)
    failures: list[DocFailure] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)  # folder id ("." root) -> why

    def cut(self, folder: str, why: str) -> None:
        """Record a folder whose subtree was not (fully) walked."""
        self.incomplete[folder] = why
        self.failures.append(DocFailure(folder, why))


def inside(path: str, root: str) -> bool:
    """True when the real path ``path`` is ``root`` or below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def outside_failure(doc_id: str) -> DocFailure:
    """The failure of a file or folder whose real path is outside the root.

    Marked ``outside``: unlike other unreadable files, the index does not keep its
    previous version (nothing inside the root lives at that path any more)."""
    return DocFailure(doc_id, OUTSIDE, {"outside": True})


def walk(root: str, selected: Callable[[str], bool]) -> Walk:
    """List the selected files below the real folder ``root`` (ids sorted)."""
    root = os.path.realpath(root)
    out = Walk()
    seen: set[tuple[int, int]] = set()

    def visit(real_dir: str, rel: str, depth: int) -> None:
        try:
            st = os.stat(real_dir)
            if (st.st_dev, st.st_ino) in seen:  # a bind mount of an ancestor
                out.cut(rel, "folder loop (the same folder is mounted twice)")
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(real_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            out.cut(rel or ".", f"cannot list the folder: {e.strerror or e}")
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if not is_valid_utf8(entry.name):
                    _bad_name(out, entry, safe_name(child), selected)
                elif entry.is_symlink():
                    _link(out, root, real_dir, entry.path, child, selected)
                elif entry.is_dir(follow_symlinks=False):
                    if depth >= MAX_DEPTH:
                        out.cut(child, f"folder nesting deeper than {MAX_DEPTH} levels")
                    else:
                        visit(entry.path, child, depth + 1)
                elif selected(child):
                    out.files.append(child)
            except OSError as e:
                out.failures.append(DocFailure(safe_name(child), f"cannot read: {e.strerror}"))

    visit(root, "", 0)
    out.files.sort()
    return out


def _bad_name(
    out: Walk, entry: os.DirEntry[str], safe: str, selected: Callable[[str], bool]
) -> None:
    if entry.is_dir(follow_symlinks=False):
        out.cut(safe, "folder name is not valid UTF-8")
    elif selected(safe):
        out.failures.append(DocFailure(safe, BAD_NAME))


def _link(
    out: Walk, root: str, real_dir: str, path: str, child: str, selected: Callable[[str], bool]
) -> None:
    target = os.path.realpath(path)
    is_dir = os.path.isdir(target)
    if not inside(target, root):
        if is_dir or selected(child):
            out.failures.append(outside_failure(child))
    elif not is_dir:
        if selected(child):  # a file link inside the root (or a broken one: reported on read)
            out.files.append(child)
    elif inside(real_dir, target):
        where = os.path.relpath(target, root)
        out.cut(child, f"symbolic link loop: points to its own ancestor {where!r}")
    # else: a folder link inside the root; its real folder is walked at its own place


def open_beneath(root: str, rel: str) -> int:
    """Open the file at real relative path ``rel`` below real ``root``, refusing links.

    Every component is opened with ``O_NOFOLLOW`` relative to its parent, so a component
    swapped for a link after the caller resolved the path is refused, not followed. Only
    regular files are opened (a FIFO would block). Returns a file descriptor.
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not nofollow or os.open not in os.supports_dir_fd:  # no openat: best effort
        fd = os.open(os.path.join(root, rel), flags | nofollow | getattr(os, "O_NONBLOCK", 0))
        return _regular(fd)
    parts = rel.split(os.sep)
    dfd = os.open(root, flags | getattr(os, "O_DIRECTORY", 0))
    try:
        for part in parts[:-1]:
            nfd = os.open(part, flags | os.O_DIRECTORY | nofollow, dir_fd=dfd)
            os.close(dfd)
            dfd = nfd
        fd = os.open(parts[-1], flags | nofollow | os.O_NONBLOCK, dir_fd=dfd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ValueError("became a symbolic link while being opened: not read") from None
        raise
    finally:
        os.close(dfd)
    return _regular(fd)


def _regular(fd: int) -> int:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("not a regular file")
    return fd
