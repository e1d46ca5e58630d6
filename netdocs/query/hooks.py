"""Post-query hooks: callbacks that receive a plain record of every search and ask.

``netdocs.query.api`` calls every registered hook after the query has been answered and
audited, in the calling thread, in registration order. The metrics recorder
(``netdocs.metrics.hook.on_query_record``) is built in: it runs first, on the query's own
database connection, for every search and ask. A hook that raises is logged and
skipped: a metrics recorder can never fail or change a query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryRecord:
    """What one search or ask did (no framework types; safe to serialise)."""

    query_id: str
    at: datetime  # UTC, when the query started
    action: str  # "search" | "ask"
    user: str
    role: str | None
    tags: tuple[str, ...] | None  # the effective tag set, sorted; None = unrestricted
    question: str
    chunk_ids: tuple[str, ...]  # returned (search) / given to the answerer (ask), in rank order
    paths: tuple[str, ...]  # the document path of each chunk id, same order
    cache_hit: bool
    latency_ms: float
    retrieval_mode: str  # "fused" | "dense" | "fulltext"
    k: int
    answer_mode: str | None = None  # ask: "llm" | "fallback"; search: None
    model: str | None = None  # the answering model (ask, llm mode)
    input_tokens: int = 0  # tokens spent by THIS query (0 on a cache hit)
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # spent by this query; None when the model's price is unknown
    saved_usd: float | None = 0.0  # a hit: what producing the cached answer had cost
    low_confidence: bool = False  # the best passage was weak (see netdocs.query.fallback)
    # Per-stage milliseconds: embed_ms, dense_ms, fulltext_ms, fuse_ms, generate_ms
    # (and rewrite_ms, rerank_ms when those stages run).
    timings: Mapping[str, float] = field(default_factory=dict, hash=False)
    # rerank / rewrite (NETDOCS_RERANK, NETDOCS_QUERY_REWRITE): what ran, or
    # "rerank: fallback (reason)" when a stage kept the offline order.
    retrieval_notes: tuple[str, ...] = ()


QueryHook = Callable[[QueryRecord], None]

_hooks: list[QueryHook] = []
_lock = threading.Lock()


def add_hook(hook: QueryHook) -> Callable[[], None]:
    """Register ``hook``; returns a function that removes it again."""
    with _lock:
        _hooks.append(hook)

    def remove() -> None:
        with _lock:
            if hook in _hooks:
                _hooks.remove(hook)

    return remove


def any_hooks() -> bool:
    """True when a hook is registered."""
    with _lock:
        return bool(_hooks)


def run_hooks(record: QueryRecord) -> None:
    """Call every hook with ``record``; failures are logged, never raised."""
    with _lock:
        hooks = list(_hooks)
    for hook in hooks:
        try:
            hook(record)
        except Exception:
            log.exception("post-query hook %r failed", hook)
