"""Provider resilience: the one retry layer (:mod:`.retry`) and the per-provider circuit
breakers (:mod:`.breaker`); every public name is importable from here."""

from netdocs.resilience.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerListener,
    BreakerSnapshot,
    CircuitBreaker,
    add_breaker_listener,
    breaker_snapshots,
    get_breaker,
    reset_breakers,
)
from netdocs.resilience.retry import (
    REFUSED_INPUT,
    RETRYABLE_STATUS,
    RetryPolicy,
    backoff_delay,
    is_retryable,
    parse_retry_after,
    retry_after,
    retry_call,
    short_error,
    status_of,
)

__all__ = [
    "REFUSED_INPUT",
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "RETRYABLE_STATUS",
    "BreakerListener",
    "BreakerSnapshot",
    "CircuitBreaker",
    "RetryPolicy",
    "add_breaker_listener",
    "backoff_delay",
    "breaker_snapshots",
    "get_breaker",
    "is_retryable",
    "parse_retry_after",
    "reset_breakers",
    "retry_after",
    "retry_call",
    "short_error",
    "status_of",
]
