"""Serving a query-cache entry the server has already read, in one statement (pure SQL).

``netdocs serve`` remembers the entries it has served (``netdocs.server.fastpath``). The
next time the same key comes in, one statement checks everything the three-statement path
checks -- the index generation, model and stored policy hash are still those the key was
made from, the entry still exists as read (same ``created_at``) and is younger than the TTL,
every chunk it holds still exists, is not withdrawn and the caller's tags may see it -- and,
only if all of that holds, writes the audit row and the metric row. It returns whether it
did: both rows or neither, and nothing served without them.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import sql
from psycopg.types.json import Jsonb

from netdocs.audit.log import COLUMNS as AUDIT_COLUMNS
from netdocs.cache.store import CachedResult
from netdocs.metrics.record import DB_COLUMNS as METRIC_COLUMNS
from netdocs.query.sql import entry_visible_sql
from netdocs.store.snapshot import SNAPSHOT_MATCHES, IndexSnapshot, match_params


def _insert(table: str, columns: tuple[str, ...] | list[str], param: str) -> sql.Composed:
    """Insert the row given as one JSON object (``jsonb_populate_record``: one parameter
    instead of one per column; only ``columns`` are written, the others keep defaults)."""
    return sql.SQL(
        "INSERT INTO {t} ({cols}) SELECT {vals}"
        " FROM ok, jsonb_populate_record(NULL::{t}, {p}) AS r WHERE ok.ok"
    ).format(
        t=sql.Identifier(table),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        vals=sql.SQL(", ").join(sql.Identifier("r", c) for c in columns),
        p=sql.Placeholder(param),
    )


@functools.cache
def replay_sql(*, restricted: bool) -> bytes:
    """The statement: returns one row, ``ok`` -- True when the rows were written. Built
    once (composing a statement costs more client CPU than running this one)."""
    stmt = sql.SQL(
        "WITH ok AS (SELECT {snapshot} AND EXISTS (SELECT 1 FROM query_cache e"
        " WHERE e.cache_key = %(key)s AND e.created_at = %(created)s"
        " AND e.created_at > now() - make_interval(secs => %(ttl)s) AND {visible}) AS ok),"
        " audit_row AS ({audit}),"
        " metric_row AS ({metric} ON CONFLICT (query_id) DO NOTHING)"
        " SELECT ok FROM ok"
    ).format(
        snapshot=sql.SQL(SNAPSHOT_MATCHES),
        visible=entry_visible_sql(restricted=restricted),
        audit=_insert("audit_log", AUDIT_COLUMNS, "audit"),
        metric=_insert("query_metrics", METRIC_COLUMNS, "metric"),
    )
    return stmt.as_bytes(None)


def replay_params(
    snap: IndexSnapshot,
    entry: CachedResult,
    ttl_s: float,
    allowed: frozenset[str] | None,
    stale_max_age: timedelta,
    values: list[Any],
) -> dict[str, Any]:
    """The parameters: ``values`` are the audit row's then the metric row's, in column
    order (``netdocs.query.lifecycle.together_params``)."""
    if entry.created_at is None:
        raise ValueError("an entry read without its created_at cannot be replayed")
    n = len(AUDIT_COLUMNS)
    if len(values) != n + len(METRIC_COLUMNS):
        raise ValueError(f"expected {n + len(METRIC_COLUMNS)} row values, got {len(values)}")
    params: dict[str, Any] = {
        **match_params(snap),
        "key": entry.cache_key,
        "created": entry.created_at,
        "ttl": ttl_s,
        "stale_max_age": stale_max_age,
    }
    if allowed is not None:
        params["allowed"] = sorted(allowed)
    params["audit"] = _row(AUDIT_COLUMNS, values[:n])
    params["metric"] = _row(METRIC_COLUMNS, values[n:])
    return params


def _row(columns: tuple[str, ...] | list[str], values: list[Any]) -> Jsonb:
    """One row as a JSON object (a Jsonb value unwrapped, times as ISO 8601)."""
    obj = {c: v.obj if isinstance(v, Jsonb) else v for c, v in zip(columns, values, strict=True)}
    return Jsonb(obj, dumps=_dumps)


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)  # datetimes as RFC 3339
    except TypeError:  # e.g. a lone surrogate: the json module escapes it
        return json.dumps(obj, default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
