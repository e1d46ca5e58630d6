"""The share of chunks a tag set may see, estimated from PostgreSQL's statistics of ``tags``.

A filtered HNSW search needs a larger candidate list (``hnsw.ef_search``) the fewer rows
pass the filter: the graph's first ``ef`` neighbours hold about ``share * ef`` permitted ones.
The share is estimated as the sum of the tags' shares in ``pg_stats.most_common_elem_freqs``
of ``chunks.tags`` (an over-estimate when chunks carry several of the tags, so the list is
never made larger than needed), at most 1. Read at most once per ``SHARES_TTL_S`` per
connection: no query of its own on the search path.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable

import psycopg

SHARES_TTL_S = 300.0

_cache: weakref.WeakKeyDictionary[psycopg.Connection, tuple[float, dict[str, float] | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def load_shares(conn: psycopg.Connection) -> dict[str, float] | None:
    """{tag: share of chunks carrying it}; None before the first ANALYZE of ``chunks``."""
    row = conn.execute(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
        " WHERE schemaname = current_schema() AND tablename = 'chunks' AND attname = 'tags'"
    ).fetchone()
    if row is None or not row[0] or not row[1]:
        return None
    elems, freqs = row
    return dict(zip(elems, freqs[: len(elems)], strict=True))


def visible_share(shares: dict[str, float] | None, allowed: Iterable[str] | None) -> float:
    """Estimated share of chunks ``allowed`` may see (1.0 unrestricted or without statistics;
    a tag the statistics do not list counts as half the rarest listed one) (pure)."""
    if allowed is None or not shares:
        return 1.0
    floor = min(shares.values()) / 2
    return min(1.0, sum(shares.get(tag, floor) for tag in set(allowed)))


def cached_share(conn: psycopg.Connection, allowed: Iterable[str] | None) -> float:
    """:func:`visible_share` with the statistics re-read every ``SHARES_TTL_S`` seconds."""
    if allowed is None:
        return 1.0
    now = time.monotonic()
    with _lock:
        hit = _cache.get(conn)
    if hit is None or now - hit[0] >= SHARES_TTL_S:
        hit = (now, load_shares(conn))
        with _lock:
            _cache[conn] = hit
    return visible_share(hit[1], allowed)
