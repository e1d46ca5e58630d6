"""Turning one finished search/ask into a metric row: the post-query hook.

Plug ``on_query`` into the shared query entry point's list of post-query hooks. It reads
from the record, by attribute name (missing ones take defaults):

- ``query_id``, ``kind`` ("search"/"ask"), ``role``, ``user``, ``k``, ``latency_ms``,
  ``cache_hit``;
- ``hits`` (list of Hit) and/or ``answer`` (an Answer: mode, model, tokens, cost, low
  confidence), or the flat fields ``result_count``, ``low_confidence``, ``mode``, ``model``,
  ``input_tokens``, ``output_tokens``, ``cost_usd``;
- ``timings``: per-stage milliseconds (``embed_ms``, ``dense_ms``, ``fulltext_ms``,
  ``fuse_ms``, ``generate_ms``) as filled by ``SearchService.search(timings=...)`` and
  ``Answerer.answer(timings=...)``.

``on_query`` never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from netdocs.config import Settings, get_settings
from netdocs.metrics.prices import chat_cost
from netdocs.metrics.record import STAGES, QueryMetric, record_query
from netdocs.query.fallback import low_confidence
from netdocs.query.hooks import QueryRecord
from netdocs.query.results import Answer, Hit

log = logging.getLogger(__name__)


def metric_from(
    *,
    query_id: str,
    kind: str,
    latency_ms: float,
    hits: Sequence[Hit] = (),
    answer: Answer | None = None,
    timings: Mapping[str, float] | None = None,
    role: str | None = None,
    user: str | None = None,
    k: int | None = None,
    cache_hit: bool = False,
    settings: Settings | None = None,
) -> QueryMetric:
    """The metric row of one search (``answer`` None) or ask."""
    settings = settings or get_settings()
    hits = list(answer.hits) if answer is not None and not hits else list(hits)
    metric = QueryMetric(
        query_id=query_id,
        kind=kind,
        role=role,
        user=user,
        latency_ms=float(latency_ms),
        result_count=len(hits),
        empty=not hits,
        low_confidence=low_confidence(hits, settings.fallback_min_cosine),
        cache_hit=cache_hit,
        k=k,
    )
    for stage in STAGES:
        if timings and stage in timings:
            setattr(metric, stage, float(timings[stage]))
    if answer is not None:
        metric.low_confidence = answer.low_confidence
        metric.mode, metric.model = answer.mode, answer.model
        metric.input_tokens, metric.output_tokens = answer.input_tokens, answer.output_tokens
        metric.cost_usd = answer.cost_usd
        if answer.model and (answer.input_tokens or answer.output_tokens):
            priced = chat_cost(settings, answer.model, answer.input_tokens, answer.output_tokens)
            metric.cost_usd = priced if priced is not None else answer.cost_usd
    return metric


_FLAT = ("result_count", "low_confidence", "mode", "model", "input_tokens", "output_tokens")


def metric_from_record(record: Any, settings: Settings | None = None) -> QueryMetric:
    """A metric from a post-query record (see the module docstring for the fields read)."""
    get = record.get if isinstance(record, Mapping) else lambda n, d=None: getattr(record, n, d)
    answer = get("answer")
    hits = get("hits") or ()
    metric = metric_from(
        query_id=str(get("query_id") or ""),
        kind=get("kind") or ("ask" if answer is not None else "search"),
        latency_ms=float(get("latency_ms") or (answer.latency_ms if answer else 0.0)),
        hits=hits,
        answer=answer if isinstance(answer, Answer) else None,
        timings=get("timings"),
        role=get("role"),
        user=get("user"),
        k=get("k"),
        cache_hit=bool(get("cache_hit", False)),
        settings=settings,
    )
    if not hits and answer is None:  # a flat record
        for name in _FLAT:
            if get(name) is not None:
                setattr(metric, name, get(name))
        metric.empty = metric.result_count == 0
        cost = get("cost_usd")
        if cost is not None:
            metric.cost_usd = float(cost)
    return metric


_urls: dict[tuple[str, str | None], str] = {}


def _url(settings: Settings) -> str:
    """The database URL, resolved once per configuration (the embedded server's lookup
    costs more than the metric INSERT)."""
    secret = settings.database_url
    key = (str(settings.home), secret.get_secret_value() if secret else None)
    if key not in _urls:
        from netdocs.db import database_url

        _urls[key] = database_url(settings)
    return _urls[key]


def on_query(record: Any, *, conn: psycopg.Connection | str | None = None) -> None:
    """Post-query hook: record the query's metric row (to ``conn``, or the configured
    database). Never raises and never blocks long (see ``record_query``)."""
    try:
        settings = get_settings()
        metric = metric_from_record(record, settings)
        record_query(conn if conn is not None else _url(settings), metric)
    except Exception as e:  # a metric must never fail the answer
        log.warning("query metric not recorded: %s", type(e).__name__)


def metric_of_record(record: QueryRecord) -> QueryMetric:
    """The metric row of a ``netdocs.query.api`` record (``action``, ``chunk_ids``,
    ``answer_mode``, ...; raises on a malformed record)."""
    flat = {
        "query_id": record.query_id,
        "kind": record.action,
        "role": record.role,
        "user": record.user,
        "k": record.k,
        "latency_ms": record.latency_ms,
        "cache_hit": record.cache_hit,
        "result_count": len(record.chunk_ids),
        "low_confidence": record.low_confidence,
        "mode": record.answer_mode,
        "model": record.model,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cost_usd": record.cost_usd,
        "timings": dict(record.timings),
    }
    return metric_from_record(flat, get_settings())


def on_query_record(record: QueryRecord, *, conn: psycopg.Connection | str | None = None) -> None:
    """The built-in post-query hook of ``netdocs.query.api``: the record's metric row, to
    ``conn`` or the configured database. Never raises."""
    try:
        metric = metric_of_record(record)
        record_query(conn if conn is not None else _url(get_settings()), metric)
    except Exception as e:
        log.warning("query metric not recorded: %s", type(e).__name__)
