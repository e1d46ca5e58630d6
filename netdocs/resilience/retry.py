"""Retrying provider calls: the one retry layer (SDK retries are switched off).

    retry_call(fn, policy)        call fn; on a retryable error wait and call again
      ├── is_retryable(exc)       408 / 409 / 429 / 5xx (incl. 529), timeouts, connection errors;
      │                           never any other 4xx, never malformed answers
      ├── retry_after(exc)        the server's wait: ``retry-after-ms``, ``retry-after``
      │                           (seconds or an HTTP date) from the SDK error's response
      └── backoff_delay(...)      full-jitter exponential backoff, never sooner than
                                  Retry-After

Attempts and total time are both bounded (:class:`RetryPolicy`); when either runs out the
last error is re-raised unchanged, so callers wrap it once in their own domain error.
"""

from __future__ import annotations

import email.utils
import logging
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
#: The provider refused the request's content (too long, filtered): not an outage.
REFUSED_INPUT = frozenset({400, 413, 422})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: attempts in all, backoff base / cap, total seconds allowed."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total: float = 120.0  # never start a wait that would end later than this after the start


def backoff_delay(
    attempt: int, base: float, cap: float, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first call).

    Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``; raised to
    ``retry_after`` when the server asked for a longer wait.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 62))
    delay = rng.uniform(0.0, max(ceiling, 0.0))
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


def _sdk_classes(name: str) -> tuple[type[BaseException], ...]:
    """``APIConnectionError`` of each provider SDK already imported (an exception from an
    SDK implies the SDK is loaded, so nothing is imported here)."""
    found: list[type[BaseException]] = []
    for sdk in ("openai", "anthropic"):
        module = sys.modules.get(sdk)
        cls = getattr(module, name, None) if module is not None else None
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def _transport_errors() -> tuple[type[BaseException], ...]:
    httpx = sys.modules.get("httpx")
    extra: tuple[type[BaseException], ...] = (httpx.TransportError,) if httpx else ()
    return (TimeoutError, ConnectionError, *extra, *_sdk_classes("APIConnectionError"))


def status_of(exc: BaseException) -> int | None:
    """The HTTP status carried by an SDK error, if any."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """True for transient failures: 408/409/429/5xx, timeouts, connection errors."""
    if isinstance(exc, _transport_errors()):  # SDK timeouts subclass their connection errors
        return True
    if isinstance(exc, _sdk_classes("APIStatusError")):
        status = status_of(exc)
        return status is not None and (status in RETRYABLE_STATUS or status >= 500)
    return False


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        return max(0.0, float(lower["retry-after-ms"]) / 1000.0)
    except (KeyError, ValueError):
        pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after(exc: BaseException) -> float | None:
    """The server-requested wait carried by an SDK error's response, if any."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return parse_retry_after(headers) if isinstance(headers, Mapping) else None


def short_error(exc: BaseException, limit: int = 200) -> str:
    """``"<status> <error class>"`` for HTTP errors, ``"timeout"`` / ``"connection error"``
    for transport failures, else the exception's type and message; truncated.

    The provider's own message is left out: it reaches answers, notes, the audit log and
    logs, and it can quote what it should not (a 401 shows the key's first and last
    characters; a gateway may echo headers)."""
    status = status_of(exc)
    if status is not None:
        text = f"{status} {type(exc).__name__}"
    elif isinstance(exc, _transport_errors()):
        kind = "timeout" if "timeout" in type(exc).__name__.lower() else "connection error"
        text = f"{kind} ({type(exc).__name__})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_call(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str = "provider call",
    describe: Callable[[BaseException], str] = short_error,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error, or the policy runs out.

    The final error propagates unchanged (``describe`` formats it for the log only).
    """
    rng = rng or random.Random()
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not is_retryable(exc) or attempt >= policy.max_attempts:
                raise
            wait = backoff_delay(
                attempt, policy.base_delay, policy.max_delay, retry_after(exc), rng
            )
            if clock() - start + wait > policy.max_total:
                log.warning(
                    "%s: %s; giving up (next wait %.1fs exceeds the %.0fs budget)",
                    what,
                    describe(exc),
                    wait,
                    policy.max_total,
                )
                raise
            log.warning(
                "%s: %s; retry %d/%d in %.2fs",
                what,
                describe(exc),
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            sleep(wait)
