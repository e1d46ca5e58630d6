"""The stat fast path's trust rule (netdocs.filestat): same stat, and not racy."""

from __future__ import annotations

import os
import stat

from netdocs.filestat import NS, file_stat, racy, trusted

SEEN = 1_700_000_000 * NS
MARGIN = 2 * NS


def st(
    size: int = 10,
    mtime: int = SEEN - 60 * NS,
    ctime: int = SEEN - 60 * NS,
    ino: int = 7,
    mode: int = stat.S_IFREG | 0o644,
) -> os.stat_result:
    """A stat result with the fields the rule reads (times in ns, as os.stat gives them)."""
    fields = [mode, ino, 1, 1, 0, 0, size, mtime // NS, mtime // NS, ctime // NS]
    return os.stat_result(fields + [mtime / NS, mtime / NS, ctime / NS, mtime, mtime, ctime])


def test_an_unchanged_old_file_is_trusted() -> None:
    assert trusted(file_stat(st(), SEEN), st(), MARGIN)


def test_any_difference_in_size_times_inode_or_kind_is_not_trusted() -> None:
    rec = file_stat(st(), SEEN)
    assert not trusted(rec, st(size=11), MARGIN)
    assert not trusted(rec, st(mtime=SEEN - 59 * NS), MARGIN)
    assert not trusted(rec, st(ctime=SEEN - 59 * NS), MARGIN)  # an edit with mtime put back
    assert not trusted(rec, st(ino=8), MARGIN)  # replaced by another file
    assert not trusted(rec, st(mode=stat.S_IFIFO | 0o644), MARGIN)


def test_a_record_changed_within_the_margin_of_its_read_is_racy() -> None:
    """The file may have changed again in the same timestamp tick: never trusted, even
    when the stat is the same."""
    for late in (st(mtime=SEEN - NS), st(ctime=SEEN - NS), st(mtime=SEEN + NS, ctime=SEEN + NS)):
        rec = file_stat(late, SEEN)
        assert racy(rec, MARGIN) and not trusted(rec, late, MARGIN)
    old = file_stat(st(mtime=SEEN - 3 * NS, ctime=SEEN - 3 * NS), SEEN)
    assert not racy(old, MARGIN) and racy(old, 4 * NS)
