"""The Prometheus text exposition of the query metrics (``netdocs metrics --prometheus``).

A fresh ``CollectorRegistry`` is filled from the rows of the window: counters (queries,
empty results, low confidence, cache hits, tokens, cost, votes), histograms (total and
per-stage latency, in seconds) and gauges (the judged summary figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from netdocs.metrics.record import STAGES, QueryMetric

#: Latency buckets in seconds: around the targets (3 s average, 8 s p95, 20 s red flag).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 8.0, 10.0, 20.0, 60.0)
_GAUGES = (
    "avg_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "satisfaction",
    "cache_hit_rate",
    "empty_rate",
    "low_confidence_rate",
    "queries_per_hour",
)


NO_ROLE, ALL_ROLES = "(none)", "(all)"


def _role(m: QueryMetric) -> str:
    return m.role or NO_ROLE


def build_registry(
    rows: Sequence[QueryMetric], votes: Mapping[str, bool], summary: Mapping[str, Any]
) -> CollectorRegistry:
    """A registry holding the window's rows as counters and histograms, plus the
    ``summary`` (``summary.report`` output) as gauges."""
    reg = CollectorRegistry()
    queries = Counter("netdocs_queries", "Queries answered", ["role", "kind", "mode"], registry=reg)
    empty = Counter("netdocs_query_empty", "Queries with no result", ["role"], registry=reg)
    low = Counter("netdocs_query_low_confidence", "Low-confidence answers", ["role"], registry=reg)
    hits = Counter("netdocs_query_cache_hits", "Answers served from cache", ["role"], registry=reg)
    tokens = Counter("netdocs_llm_tokens", "LLM tokens", ["role", "direction"], registry=reg)
    cost = Counter("netdocs_llm_cost_usd", "LLM cost in US dollars", ["role"], registry=reg)
    feedback = Counter("netdocs_feedback", "Votes on answers", ["rating"], registry=reg)
    latency = Histogram(
        "netdocs_query_latency_seconds",
        "Total query latency",
        ["role"],
        buckets=LATENCY_BUCKETS,
        registry=reg,
    )
    stage = Histogram(
        "netdocs_query_stage_seconds",
        "Latency of one query stage",
        ["stage"],
        buckets=LATENCY_BUCKETS,
        registry=reg,
    )
    for m in rows:
        role = _role(m)
        queries.labels(role, m.kind, m.mode or "").inc()
        empty.labels(role).inc(1 if m.empty else 0)
        low.labels(role).inc(1 if m.low_confidence else 0)
        hits.labels(role).inc(1 if m.cache_hit else 0)
        tokens.labels(role, "input").inc(m.input_tokens)
        tokens.labels(role, "output").inc(m.output_tokens)
        cost.labels(role).inc(m.cost_usd or 0.0)
        latency.labels(role).observe(m.latency_ms / 1000.0)
        for name in STAGES:
            ms = getattr(m, name)
            if ms is not None:
                stage.labels(name.removesuffix("_ms")).observe(ms / 1000.0)
    for helpful in votes.values():
        feedback.labels("helpful" if helpful else "not_helpful").inc()
    _gauges(reg, summary)
    return reg


def _gauges(reg: CollectorRegistry, summary: Mapping[str, Any]) -> None:
    groups = {ALL_ROLES: summary["overall"], **summary["by_role"]}
    for name in _GAUGES:
        gauge = Gauge(f"netdocs_{name}", f"{name} over the window", ["role"], registry=reg)
        for role, fig in groups.items():
            if fig.get(name) is not None:
                gauge.labels(role).set(fig[name])
    status = Gauge(
        "netdocs_target_status",
        "Judgment of a figure: 0 ok, 1 warning, 2 red flag",
        ["role", "figure"],
        registry=reg,
    )
    levels = {"ok": 0, "warning": 1, "red_flag": 2}
    for role, fig in groups.items():
        for figure, judgment in fig["judgments"].items():
            if judgment in levels:
                status.labels(role, figure).set(levels[judgment])


def exposition(
    rows: Sequence[QueryMetric], votes: Mapping[str, bool], summary: Mapping[str, Any]
) -> str:
    """The text exposition format (version 0.0.4)."""
    return generate_latest(build_registry(rows, votes, summary)).decode("utf-8")
