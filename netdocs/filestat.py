"""The scan's stat fast path: trust a document's stored hash while its file's stat is unchanged.

Like git's index, each indexed document keeps the stat of its file (size, mtime, ctime,
inode) as it was when the committed content was read, and the wall-clock time just before
that read. A later scan does not read the file again when

- its current stat equals the recorded one (any write moves ctime, which no user call can
  set back, so an edit that keeps the size and restores the mtime is still seen), and
- the recorded mtime and ctime are older than that read by more than a margin. Otherwise the
  record is *racy*: the file may have changed within the timestamp resolution of the read
  (or of a clock skewed against ours), so it is read again, which records a new time.

``--full`` reads every file. Pure functions: no I/O here.
"""

from __future__ import annotations

import os
import stat

from netdocs.types import FileStat

NS = 1_000_000_000


def file_stat(st: os.stat_result, seen_ns: int) -> FileStat:
    """The record of a file read with stat ``st`` (taken after the read), ``seen_ns`` the
    wall clock just before the read began."""
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, seen_ns)


def racy(rec: FileStat, margin_ns: int) -> bool:
    """True when the file changed too close to (or after) the read that recorded it."""
    return max(rec.mtime_ns, rec.ctime_ns) >= rec.seen_ns - margin_ns


def trusted(rec: FileStat, st: os.stat_result, margin_ns: int) -> bool:
    """True when a file with stat ``st`` still holds the content read with record ``rec``."""
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_size == rec.size
        and st.st_mtime_ns == rec.mtime_ns
        and st.st_ctime_ns == rec.ctime_ns
        and st.st_ino == rec.ino
        and not racy(rec, margin_ns)
    )
