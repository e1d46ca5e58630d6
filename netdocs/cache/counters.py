"""Cache statistics kept in memory and written in one transaction at a time (the server).

Without it every query commits an UPDATE of the one ``cache_counters`` row of its kind (and
of the cached entry's ``hit_count``): concurrent requests queue on that row's lock. With a
``CounterBuffer`` the counts are added up in the process and ``flush`` writes them all at
once (``netdocs serve`` flushes every second and at shutdown); ``netdocs cache stats`` then
lags by at most that interval. A failed flush keeps the counts for the next one.
"""

from __future__ import annotations

import threading
from collections import Counter

import psycopg

from netdocs.cache.store import NO_FLUSH_WAIT


class CounterBuffer:
    """Hit/miss counts per cache kind and hit counts per cached entry, not yet written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lookups: Counter[tuple[str, bool]] = Counter()
        self._entry_hits: Counter[str] = Counter()  # query_cache key -> hits
        self._vector_hits: Counter[tuple[str, str]] = Counter()  # (model, sha256) -> hits

    def lookup(self, kind: str, hit: bool) -> None:
        """One hit or miss of ``kind`` (query | query_embedding)."""
        with self._lock:
            self._lookups[(kind, hit)] += 1

    def entry_hit(self, key: str) -> None:
        """One served hit of the query-cache entry ``key`` (and a query-cache hit)."""
        with self._lock:
            self._entry_hits[key] += 1
            self._lookups[("query", True)] += 1

    def vector_hit(self, model_id: str, text_sha256: str) -> None:
        """One hit of a cached question embedding (and a query_embedding hit)."""
        with self._lock:
            self._vector_hits[(model_id, text_sha256)] += 1
            self._lookups[("query_embedding", True)] += 1

    def pending(self) -> int:
        """How many lookups (hits and misses) wait to be written."""
        with self._lock:
            return sum(self._lookups.values())

    def flush(self, conn: psycopg.Connection) -> int:
        """Write the pending counts in one transaction (no WAL flush wait); returns how many
        lookups were written. On failure they are kept for the next flush and the error is
        raised."""
        with self._lock:
            lookups, entries, vectors = self._lookups, self._entry_hits, self._vector_hits
            self._lookups, self._entry_hits, self._vector_hits = Counter(), Counter(), Counter()
        if not lookups:  # every entry or vector hit is also a lookup
            return 0
        per_kind: dict[str, list[int]] = {}
        for (kind, hit), n in lookups.items():
            per_kind.setdefault(kind, [0, 0])[0 if hit else 1] += n
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(NO_FLUSH_WAIT)
                cur.executemany(
                    "UPDATE cache_counters SET hits = hits + %s, misses = misses + %s"
                    " WHERE kind = %s",
                    [(h, m, kind) for kind, (h, m) in sorted(per_kind.items())],
                )
                if entries:
                    cur.executemany(
                        "UPDATE query_cache SET hit_count = hit_count + %s, last_hit_at = now()"
                        " WHERE cache_key = %s",
                        [(n, key) for key, n in sorted(entries.items())],
                    )
                if vectors:
                    cur.executemany(
                        "UPDATE query_embedding_cache SET hit_count = hit_count + %s,"
                        " last_hit_at = now() WHERE model_id = %s AND text_sha256 = %s",
                        [(n, m, sha) for (m, sha), n in sorted(vectors.items())],
                    )
        except BaseException:
            with self._lock:
                self._lookups.update(lookups)
                self._entry_hits.update(entries)
                self._vector_hits.update(vectors)
            raise
        return sum(lookups.values())
