"""The OpenAI embedder behind its circuit breaker (real SDK against the stub server):
transient faults within one call are retried and do not count; failed calls open the
breaker; while open no request is made; after the cool-down one probe closes it."""

from __future__ import annotations

import pytest

from netdocs.embedding.openai_embedder import OpenAIEmbedder
from netdocs.errors import EmbeddingProviderError, EmbeddingProviderUnavailable
from netdocs.resilience import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, RetryPolicy
from tests.stubs import ProviderStub

pytest_plugins = ["tests.stubs.fixtures"]

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_total=5.0)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def make(stub: ProviderStub, breaker: CircuitBreaker) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        "text-embedding-3-small", "sk-test", base_url=stub.openai_base_url, timeout=5.0,
        retry=FAST, breaker=breaker,
    )  # fmt: skip


def test_breaker_opens_blocks_and_recovers(provider_stub: ProviderStub) -> None:
    clock = Clock()
    breaker = CircuitBreaker("openai-embeddings", threshold=2, cooldown=30.0, clock=clock)
    emb = make(provider_stub, breaker)

    provider_stub.script("500", "ok", route="embeddings")  # retried within the call: success
    assert emb.embed(["bgp"]).shape == (1, 1536)
    assert breaker.state == CLOSED and breaker.snapshot().failures == 0

    provider_stub.script(*["500"] * 4, route="embeddings")
    for _ in range(2):
        with pytest.raises(EmbeddingProviderError, match="500"):
            emb.embed(["bgp"])
    assert breaker.state == OPEN and not emb.available()
    assert provider_stub.count("embeddings") == 2 + 4

    with pytest.raises(EmbeddingProviderUnavailable, match="circuit open"):
        emb.embed(["bgp"])
    assert provider_stub.count("embeddings") == 6  # no request while open

    clock.now += 30
    assert breaker.state == HALF_OPEN and emb.available()
    provider_stub.script("500", "500", route="embeddings")  # the probe call fails
    with pytest.raises(EmbeddingProviderError):
        emb.embed(["bgp"])
    assert breaker.state == OPEN and provider_stub.count("embeddings") == 8

    clock.now += 30
    assert emb.embed(["bgp", "ospf"]).shape == (2, 1536)  # the probe succeeds
    assert breaker.state == CLOSED and emb.available()


def test_garbage_answers_count_as_failures(provider_stub: ProviderStub) -> None:
    breaker = CircuitBreaker("openai-embeddings", threshold=1, cooldown=30.0, clock=Clock())
    emb = make(provider_stub, breaker)
    provider_stub.script("wrong-dim", route="embeddings")
    with pytest.raises(EmbeddingProviderError, match="dimension"):
        emb.embed(["bgp"])
    assert breaker.state == OPEN
