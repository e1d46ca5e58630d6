"""An HNSW index per selective role: a partial index over the chunks its tags permit.

A role that sees few chunks gets a poor filtered search from the whole-table HNSW graph:
the graph's nearest neighbours are mostly chunks it may not see, so ``ef_search`` has to
grow with 1 / share and still misses some (recall@20 0.905 for a role seeing 5.9 % of
178k chunks, 12-20 ms per search). pgvector's answer for a filter on few values is a
partial index: ``WHERE tags && '{faq,troubleshooting_guides}'``. PostgreSQL uses it when
the search's own ACL clause, with the role's sorted tags bound as a parameter, is the same
expression (a custom plan sees the value; it does with ``prepare=False``).

Which tag sets get one: a role of the stored policy, not unrestricted, seeing more than
``MIN_ROWS`` chunks (fewer are scanned exactly anyway) and at most ``MAX_SHARE`` of them;
at most ``MAX_INDEXES``, the most selective first. Roles with the same tags share one
index. ``sync`` creates the missing ones and drops those no role needs (a policy change, the
table grown or shrunk past a limit), after an ingest that changed chunks or the policy.
Names carry the dimension and a hash of the tags.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Iterable, Mapping

import psycopg
from psycopg import sql

from netdocs.policy import Policy
from netdocs.safetext import storable

#: Below this many permitted chunks the search scans exactly (query.search.EXACT_SCAN_BELOW).
MIN_ROWS = 2000
MAX_SHARE = 0.25
#: At most this many role indexes (the most selective tag sets first): each costs its build
#: and a second index insert for the chunks it covers, and a policy may define many roles.
MAX_INDEXES = 8
PREFIX = "chunks_hnsw_"
NAMES_TTL_S = 60.0


def sql_tags(allowed: Iterable[str]) -> list[str]:
    """The tag list as the search binds it: storable tags, sorted (pure)."""
    return sorted(t for t in set(allowed) if t == storable(t))


def index_name(dim: int, allowed: Iterable[str]) -> str:
    """The partial index's name for ``dim`` and a tag set (pure)."""
    digest = hashlib.sha256("\x00".join(sql_tags(allowed)).encode("utf-8")).hexdigest()[:16]
    return f"{PREFIX}{int(dim)}_tags_{digest}"


def wanted_tag_sets(
    policy: Policy, visible: Mapping[frozenset[str], int], total: int
) -> set[frozenset[str]]:
    """The tag sets that get an index, from each one's count of visible chunks (pure)."""
    out: set[frozenset[str]] = set()
    for role in policy.role_names:
        allowed = policy.allowed_tags(role)
        if allowed is None or not sql_tags(allowed):
            continue
        rows = visible.get(allowed, 0)
        if rows > MIN_ROWS and total > 0 and rows <= MAX_SHARE * total:
            out.add(allowed)
    ranked = sorted(out, key=lambda tags: (visible.get(tags, 0), sql_tags(tags)))
    return set(ranked[:MAX_INDEXES])


def existing(conn: psycopg.Connection) -> set[str]:
    """Names of the role indexes on ``chunks`` (valid or not)."""
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = 'chunks' AND indexname LIKE %s",
        (PREFIX.replace("_", r"\_") + "%",),
    ).fetchall()
    return {r[0] for r in rows}


def _create(conn: psycopg.Connection, dim: int, allowed: frozenset[str]) -> None:
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON chunks USING hnsw"
            " ((embedding::vector({dim})) vector_cosine_ops) WHERE tags && {tags}::text[]"
        ).format(
            name=sql.Identifier(index_name(dim, allowed)),
            dim=sql.Literal(int(dim)),
            tags=sql.Literal(sql_tags(allowed)),
        )
    )


def drop_all(conn: psycopg.Connection) -> None:
    """Drop every role index (a bulk load, a change of model or dimension)."""
    for name in existing(conn):
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


def sync(conn: psycopg.Connection, dim: int, policy: Policy | None) -> list[str]:
    """Create the role indexes ``policy`` needs and drop the others; what was done."""
    done: list[str] = []
    wanted: dict[str, frozenset[str]] = {}
    if policy is not None:
        row = conn.execute("SELECT count(*) FROM chunks").fetchone()
        total = int(row[0]) if row else 0
        visible: dict[frozenset[str], int] = {}
        for role in policy.role_names:
            allowed = policy.allowed_tags(role)
            if allowed is not None and allowed not in visible:
                row = conn.execute(
                    "SELECT count(*) FROM chunks WHERE tags && %s::text[]", (sql_tags(allowed),)
                ).fetchone()
                visible[allowed] = int(row[0]) if row else 0
        for allowed in wanted_tag_sets(policy, visible, total):
            wanted[index_name(dim, allowed)] = allowed
    have = existing(conn)
    for name in sorted(have - set(wanted)):
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
        done.append(f"role index {name} dropped")
    for name, allowed in sorted(wanted.items()):
        if name not in have:
            _create(conn, dim, allowed)
            done.append(f"role index {name} built for tags {', '.join(sql_tags(allowed))}")
    return done


_cache: weakref.WeakKeyDictionary[psycopg.Connection, tuple[float, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def has_index(conn: psycopg.Connection, dim: int, allowed: Iterable[str]) -> bool:
    """True when a valid role index serves this tag set (names re-read every NAMES_TTL_S)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(conn)
    if hit is None or now - hit[0] >= NAMES_TTL_S:
        rows = conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'chunks'::regclass AND i.indisvalid AND c.relname LIKE %s",
            (PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
        hit = (now, frozenset(r[0] for r in rows))
        with _lock:
            _cache[conn] = hit
    return index_name(dim, allowed) in hit[1]
