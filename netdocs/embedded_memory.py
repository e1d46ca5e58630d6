"""Memory for the embedded PostgreSQL: ``shared_buffers`` sized to the machine.

PostgreSQL's default, 128 MB, holds about a sixth of a 20,000-document index (178k chunks:
770 MB with TOAST and indexes), so searches kept re-reading the rest through the kernel: at
20,000 documents full-text p95 was 49.7 ms with 128 MB and 32.0 ms with 1 GB (measured,
docs/benchmarks.md). The embedded server gets an eighth of the memory this process may use
(the cgroup limit when lower than RAM), between 128 MB and 1 GB, unless
``NETDOCS_EMBEDDED_SHARED_BUFFERS_MB`` says otherwise. A configured
``NETDOCS_DATABASE_URL`` server is never touched: its operator sizes it.

The value goes through ``ALTER SYSTEM`` (``postgresql.auto.conf``). A server this process has
just created is restarted at once; an older one takes the value at its next start
(``netdocs db stop``), never by a restart under other clients' feet.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIN_MB = 128
MAX_MB = 1024
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
_LINE = re.compile(r"^\s*shared_buffers\s*=\s*'?([^'\s#]+)'?", re.MULTILINE)


def auto_shared_buffers_mb(memory_bytes: int) -> int:
    """An eighth of ``memory_bytes`` in MB, within MIN_MB..MAX_MB (pure)."""
    return max(MIN_MB, min(MAX_MB, memory_bytes // 8 // 2**20))


def usable_memory() -> int:
    """Bytes this process may use: physical RAM, or a lower cgroup (container) limit."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            ram = min(ram, int(text))
    return ram


def wanted_mb(configured: int | None) -> int:
    """The shared_buffers (MB) the embedded server should run with."""
    return configured if configured is not None else auto_shared_buffers_mb(usable_memory())


def recorded(pgdata: Path) -> str | None:
    """The shared_buffers value ALTER SYSTEM recorded in ``pgdata``, if any."""
    try:
        text = (pgdata / "postgresql.auto.conf").read_text(encoding="utf-8")
    except OSError:
        return None
    found = _LINE.findall(text)
    return found[-1] if found else None


def apply(uri: str, pgdata: Path, mb: int) -> bool:
    """Record ``mb`` as the server's shared_buffers unless it already is; True if changed.

    Costs one file read when nothing changes (every command starts here)."""
    value = f"{int(mb)}MB"
    if recorded(pgdata) == value:
        return False
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{value}'")
    return True


def running_value(uri: str) -> str:
    """The server's current shared_buffers, as PostgreSQL shows it (e.g. ``1GB``)."""
    with psycopg.connect(uri) as conn:
        row = conn.execute("SHOW shared_buffers").fetchone()
    return str(row[0]) if row else ""
