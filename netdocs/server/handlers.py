"""The blocking work of each API route (run in a worker thread): authenticate on a pooled
connection, then call the query entry point / feedback / metrics code. No HTTP types here."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from netdocs.query.api import By, run_ask, run_search
from netdocs.query.search import Mode
from netdocs.server.auth import AuthError, Principal, authenticate, check_role
from netdocs.server.runtime import Runtime

log = logging.getLogger(__name__)


def _principal(
    rt: Runtime, conn: psycopg.Connection, headers: Mapping[str, str], host: str | None
) -> Principal:
    return authenticate(conn, headers, host, rt.settings, rt.tokens)


def search(
    rt: Runtime,
    headers: Mapping[str, str],
    host: str | None,
    question: str,
    k: int,
    mode: Mode,
    role: str | None,
    by: By = "chunk",
) -> dict[str, Any]:
    """``POST /v1/search``: the ``netdocs search --json`` object."""
    with rt.connection() as conn:
        who = _principal(rt, conn, headers, host)
        check_role(who, role)
        service = rt.service(conn, who)
        return run_search(service, question, k=k, mode=mode, user=who.user, by=by).to_json()


def ask(
    rt: Runtime,
    headers: Mapping[str, str],
    host: str | None,
    question: str,
    k: int | None,
    role: str | None,
    passages: bool,
) -> dict[str, Any]:
    """``POST /v1/ask``: the ``netdocs ask --json`` object (+ ``passages`` on request)."""
    with rt.connection() as conn:
        who = _principal(rt, conn, headers, host)
        check_role(who, role)
        service = rt.service(conn, who)
        result = run_ask(service, question, k=k, user=who.user)
        _record_breakers(conn)
        out = result.to_json()
        if passages:
            out["passages"] = [h.to_json() for h in result.answer.hits]
        return out


def feedback(
    rt: Runtime,
    headers: Mapping[str, str],
    host: str | None,
    query_id: str,
    rating: str,
    comment: str | None,
) -> dict[str, Any]:
    """``POST /v1/feedback``: a vote on one of the caller's own queries."""
    from netdocs.metrics.feedback import UnknownQuery, give_feedback

    with rt.connection() as conn:
        who = _principal(rt, conn, headers, host)
        with conn.transaction():
            row = conn.execute(
                "SELECT user_name FROM query_metrics WHERE query_id = %s",
                (query_id.replace("\x00", ""),),
            ).fetchone()
        if row is None:
            raise UnknownQuery(f"query id {query_id!r}: no such query recorded")
        if row[0] != who.user:
            raise AuthError(403, "feedback is for your own queries only")
        fb = give_feedback(query_id, rating, comment, user=who.user, conn=conn)
        return {"feedback_id": fb.feedback_id, "query_id": fb.query_id, "rating": fb.rating}


def metrics_text(rt: Runtime, since_s: float | None) -> str:
    """``GET /metrics``: the Prometheus exposition of the window's query metrics."""
    from netdocs.metrics.prom import exposition
    from netdocs.metrics.store import load_metrics, load_votes
    from netdocs.metrics.summary import report

    now = datetime.now(UTC)
    since = None if since_s is None else now - timedelta(seconds=since_s)
    with rt.connection() as conn, conn.transaction():
        rows = load_metrics(conn, since)
        votes = load_votes(conn, since)
    return exposition(rows, votes, report(rows, votes, since=since, now=now))


def health(rt: Runtime) -> tuple[bool, dict[str, Any]]:
    """``GET /healthz``: (healthy, details): database, index generation and model, breakers."""
    from netdocs.cache.store import current_generation
    from netdocs.resilience import breaker_snapshots
    from netdocs.store.breakers import load_breakers
    from netdocs.store.schema import recorded_model

    details: dict[str, Any] = {"database": "ok"}
    try:
        with rt.connection(timeout=2.0) as conn:
            with conn.transaction():
                generation = current_generation(conn)
                model = recorded_model(conn)
            stored = load_breakers(conn)
    except Exception as e:  # any database failure makes the server unhealthy
        details["database"] = f"unavailable: {type(e).__name__}"
        return False, details
    live = {s.provider: s.state for s in breaker_snapshots()}
    details["index_generation"] = generation
    details["embedding_model"] = model[0] if model else None
    details["breakers"] = {**stored, **live}
    details["slots"] = rt.limit
    details["process"] = os.getpid()  # which worker answered (netdocs serve --workers)
    try:
        with rt.connection(timeout=2.0) as conn:
            rt.policy(conn)
        details["policy"] = "ok"
    except Exception as e:  # the detail names the policy's file, roles, tags: log only
        log.error("/healthz: the access policy is unusable: %s", e)
        details["policy"] = "invalid (details in the server log)"
        return False, details
    return True, details


def _record_breakers(conn: psycopg.Connection) -> None:
    """Best effort: the chat providers' breaker states, for /healthz and `netdocs status`."""
    from netdocs.resilience import breaker_snapshots
    from netdocs.store.breakers import save_breakers

    try:
        save_breakers(conn, breaker_snapshots())
    except Exception as e:
        log.debug("breaker states not recorded: %s", e)
