"""The query-result cache in PostgreSQL: generation, lookup with its visibility re-check, store.

Every function takes a connection and runs its statements in one transaction; callers that
share a connection between threads hold their own lock around these calls.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from netdocs.query import sql as q

if TYPE_CHECKING:
    from netdocs.cache.counters import CounterBuffer


@dataclass(frozen=True)
class CachedResult:
    """One stored search result or answer."""

    cache_key: str
    result: dict[str, Any]
    chunk_ids: list[str]
    model: str | None
    input_tokens: int
    output_tokens: int
    created_at: datetime | None = None  # when it was stored (None: not read)


#: Hit/miss counters are statistics: their commits need not wait for the WAL flush (a crash
#: may lose the last few counts, never an answer). Without it every query queued on flushes.
NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO OFF"


def current_generation(conn: psycopg.Connection) -> int:
    """The index generation (bumped by any committed change of the chunks table)."""
    row = conn.execute("SELECT generation FROM index_generation WHERE id").fetchone()
    return int(row[0]) if row else 0


def lookup_visible(
    conn: psycopg.Connection,
    key: str,
    ttl_s: float,
    allowed: frozenset[str] | None,
    stale_max_age: timedelta = timedelta(days=7),
) -> CachedResult | None:
    """The entry for ``key`` when it is younger than ``ttl_s`` seconds and every chunk it
    holds still exists, is not withdrawn (stale longer than ``stale_max_age``) and
    ``allowed`` may see it: one statement, the search's own filter."""
    stmt, params = lookup_statement(key, ttl_s, allowed, stale_max_age)
    return entry_of_row(conn.execute(stmt, params).fetchone())


def lookup_statement(
    key: str, ttl_s: float, allowed: frozenset[str] | None, stale_max_age: timedelta
) -> tuple[bytes, dict[str, Any]]:
    """The statement and parameters of :func:`lookup_visible` (pure; for any driver)."""
    params: dict[str, Any] = {"key": key, "ttl": ttl_s, "stale_max_age": stale_max_age}
    if allowed is not None:
        params["allowed"] = sorted(allowed)
    return _lookup_sql(allowed is not None), params


@functools.cache
def _lookup_sql(restricted: bool) -> bytes:
    """Composed once: composing costs more client CPU than the lookup itself."""
    return q.cached_entry_sql(restricted=restricted).as_bytes(None)


def entry_of_row(row: Sequence[Any] | None) -> CachedResult | None:
    """The servable entry of a :func:`lookup_statement` row: None when there is none or
    any of its chunks is gone, withdrawn or outside the tag set."""
    if row is None or row[7] is not True:
        return None
    return CachedResult(row[0], row[1], list(row[2]), *row[3:7])


def count_lookup(
    conn: psycopg.Connection, kind: str, hit: bool, buffer: CounterBuffer | None = None
) -> None:
    """Add one hit or miss to the counters of ``kind`` (query | query_embedding); with a
    ``buffer``, to the buffer (written by its next flush)."""
    if buffer is not None:
        buffer.lookup(kind, hit)
        return
    column = "hits" if hit else "misses"
    with conn.transaction():
        conn.execute(NO_FLUSH_WAIT)
        conn.execute(
            f"UPDATE cache_counters SET {column} = {column} + 1 WHERE kind = %s",  # fixed names
            (kind,),
        )


def mark_hit(conn: psycopg.Connection, key: str, buffer: CounterBuffer | None = None) -> None:
    """Count a served hit on the entry and in the counters (one transaction, or the buffer)."""
    if buffer is not None:
        buffer.entry_hit(key)
        return
    with conn.transaction():
        conn.execute(NO_FLUSH_WAIT)
        conn.execute(
            "UPDATE query_cache SET hit_count = hit_count + 1, last_hit_at = now()"
            " WHERE cache_key = %s",
            (key,),
        )
        count_lookup(conn, "query", True)


def store(
    conn: psycopg.Connection,
    key: str,
    fields: dict[str, Any],
    allowed: frozenset[str] | None,
    result: dict[str, Any],
    chunk_ids: list[str],
    *,
    model: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> None:
    """Insert (or replace) the entry for ``key``; nothing when the index has changed since
    the generation the entry is filed under (it could never be served)."""
    conn.execute(
        "INSERT INTO query_cache (cache_key, action, tags, generation, key_fields, result,"
        " chunk_ids, model, input_tokens, output_tokens)"
        " SELECT %s, %s, %s, g.generation, %s, %s, %s, %s, %s, %s FROM index_generation g"
        " WHERE g.id AND g.generation = %s"
        " ON CONFLICT (cache_key) DO UPDATE SET result = EXCLUDED.result,"
        " chunk_ids = EXCLUDED.chunk_ids, model = EXCLUDED.model,"
        " input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,"
        " created_at = now()",
        (
            key,
            fields["action"],
            None if allowed is None else sorted(allowed),
            Jsonb(fields),
            Jsonb(result),
            chunk_ids,
            model,
            input_tokens,
            output_tokens,
            fields["generation"],
        ),
    )


def prune_dead(conn: psycopg.Connection, ttl_s: float) -> int:
    """Delete the entries no lookup can serve any more: filed under an older generation
    (the index changed since) or past the TTL. Their stored texts (hits, answers) would
    otherwise keep deleted or superseded document text in the database indefinitely."""
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM query_cache WHERE generation < (SELECT generation FROM"
            " index_generation WHERE id) OR created_at < now() - make_interval(secs => %s)",
            (ttl_s,),
        )
    return cur.rowcount
