"""Backoff arithmetic, Retry-After parsing, retryable classification, the retry loop."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest

from netdocs.resilience import (
    RetryPolicy,
    backoff_delay,
    is_retryable,
    parse_retry_after,
    retry_after,
    retry_call,
    short_error,
)

REQ = httpx.Request("POST", "http://provider.invalid/v1/embeddings")


def openai_status(
    status: int, headers: dict[str, str] | None = None, body_message: str | None = None
) -> openai.APIStatusError:
    response = httpx.Response(status, headers=headers or {}, request=REQ)
    body = {"message": body_message or f"boom {status}", "type": "x"}
    return openai.OpenAI(api_key="k", base_url="http://x")._make_status_error(
        f"Error code: {status}", body=body, response=response
    )


def anthropic_status(status: int) -> anthropic.APIStatusError:
    response = httpx.Response(status, request=REQ)
    body = {"type": "error", "error": {"type": "x", "message": f"boom {status}"}}
    return anthropic.Anthropic(api_key="k", base_url="http://x")._make_status_error(
        f"Error code: {status}", body=body, response=response
    )


# backoff_delay -----------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 8, 30, 10_000])
def test_full_jitter_stays_within_the_exponential_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(10.0, 0.5 * 2 ** min(attempt - 1, 62))
    delays = [backoff_delay(attempt, 0.5, 10.0, None, rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.8 * ceiling  # jitter spans the whole range
    assert min(delays) < 0.2 * ceiling


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    a = [backoff_delay(n, 1.0, 30.0, None, random.Random(7)) for n in range(1, 6)]
    b = [backoff_delay(n, 1.0, 30.0, None, random.Random(7)) for n in range(1, 6)]
    assert a == b


def test_retry_after_is_a_floor_never_shortened() -> None:
    rng = random.Random(1)
    for attempt in range(1, 10):
        assert backoff_delay(attempt, 0.1, 1.0, 3.0, rng) == 3.0  # longer than the cap too
    # a short Retry-After does not cut a longer jittered wait
    long = [backoff_delay(6, 1.0, 60.0, 0.001, random.Random(s)) for s in range(50)]
    assert all(d >= 0.001 for d in long) and max(long) > 10


def test_zero_base_gives_zero_or_retry_after() -> None:
    rng = random.Random(0)
    assert backoff_delay(3, 0.0, 5.0, None, rng) == 0.0
    assert backoff_delay(3, 0.0, 5.0, 0.25, rng) == 0.25


# Retry-After parsing ------------------------------------------------------------------------


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "nope", "retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_retry_after_read_from_sdk_errors() -> None:
    assert retry_after(openai_status(429, {"retry-after": "1"})) == 1.0
    assert retry_after(openai_status(429, {"retry-after-ms": "1500"})) == 1.5
    assert retry_after(openai_status(500)) is None
    assert retry_after(openai.APITimeoutError(REQ)) is None
    assert retry_after(ValueError("x")) is None


# classification -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retryable(status: int) -> None:
    assert is_retryable(openai_status(status))
    assert is_retryable(anthropic_status(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_other_client_errors_are_not(status: int) -> None:
    assert not is_retryable(openai_status(status))
    assert not is_retryable(anthropic_status(status))


def test_transport_failures_are_retryable_other_errors_not() -> None:
    assert is_retryable(openai.APITimeoutError(REQ))
    assert is_retryable(openai.APIConnectionError(request=REQ))
    assert is_retryable(anthropic.APITimeoutError(REQ))
    assert is_retryable(anthropic.APIConnectionError(request=REQ))
    assert is_retryable(httpx.ReadTimeout("slow", request=REQ))
    assert is_retryable(ConnectionResetError())
    assert is_retryable(TimeoutError())
    assert isinstance(anthropic_status(529), anthropic.OverloadedError)
    for exc in (ValueError("bad json"), KeyError("data"), RuntimeError("x")):
        assert not is_retryable(exc)


def test_short_error_formats() -> None:
    # the provider's message stays out (a 401 quotes the key's first and last characters)
    assert short_error(openai_status(429)) == "429 RateLimitError"
    assert short_error(anthropic_status(529)) == "529 OverloadedError"
    assert "sk-" not in short_error(openai_status(401, body_message="Incorrect API key: sk-p…wxyz"))
    assert short_error(openai.APITimeoutError(REQ)).startswith("timeout")
    assert short_error(openai.APIConnectionError(request=REQ)).startswith("connection error")
    assert len(short_error(ValueError("x" * 1000))) == 200


# retry_call ---------------------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def failing(*errors: BaseException, result: str = "ok") -> tuple[list[int], Callable[[], str]]:
    calls = [0]

    def fn() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return calls, fn


def run(fn: Callable[[], str], policy: RetryPolicy, t: FakeTime) -> str:
    return retry_call(fn, policy, sleep=t.sleep, clock=t.clock, rng=random.Random(3))


def test_retries_transient_errors_then_succeeds() -> None:
    t = FakeTime()
    calls, fn = failing(openai_status(500), openai_status(429, {"retry-after": "2"}))
    assert run(fn, RetryPolicy(base_delay=0.1), t) == "ok"
    assert calls[0] == 3
    assert len(t.sleeps) == 2 and t.sleeps[0] <= 0.1 and t.sleeps[1] == 2.0


def test_non_retryable_error_raises_at_once() -> None:
    t = FakeTime()
    calls, fn = failing(openai_status(400))
    with pytest.raises(openai.BadRequestError):
        run(fn, RetryPolicy(), t)
    assert calls[0] == 1 and t.sleeps == []


def test_attempts_are_bounded() -> None:
    t = FakeTime()
    calls, fn = failing(*[openai.APITimeoutError(REQ)] * 10)
    with pytest.raises(openai.APITimeoutError):
        run(fn, RetryPolicy(max_attempts=4, base_delay=0.01), t)
    assert calls[0] == 4 and len(t.sleeps) == 3


def test_total_time_is_bounded() -> None:
    t = FakeTime()
    calls, fn = failing(*[openai_status(429, {"retry-after": "30"})] * 10)
    with pytest.raises(openai.RateLimitError):
        run(fn, RetryPolicy(max_attempts=10, max_total=70.0), t)
    assert calls[0] == 3 and t.sleeps == [30.0, 30.0]  # a third wait would end at 90 s
