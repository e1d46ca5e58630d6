"""OpenAIEmbedder driving the real openai SDK against the fault-injecting stub server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from netdocs.embedding import openai_embedder as oe
from netdocs.embedding.base import Embedder
from netdocs.embedding.openai_embedder import OpenAIEmbedder, plan_batches
from netdocs.errors import ConfigError, EmbeddingError, EmbeddingProviderError
from netdocs.resilience import RetryPolicy
from tests.stubs import Fault, ProviderStub
from tests.stubs.payloads import vector

pytest_plugins = ["tests.stubs.fixtures"]

SECRET = "sk-test-SECRET123"
FAST = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, max_total=20.0)
TEXTS = [
    "BGP session flaps on the core router",
    "radvd advertises the /64 prefix",
    "lldpd shows neighbours on every access port",
    "OSPF area 0 must be contiguous",
    "VLAN 42 carries the management network",
]


def make(stub: ProviderStub, **kw: object) -> OpenAIEmbedder:
    args: dict[str, object] = {
        "model": "text-embedding-3-small",
        "api_key": SECRET,
        "base_url": stub.openai_base_url,
        "timeout": 5.0,
        "retry": FAST,
    }
    args.update(kw)
    return OpenAIEmbedder(**args)  # type: ignore[arg-type]


def fails(emb: OpenAIEmbedder, texts: list[str] | None = None) -> EmbeddingProviderError:
    with pytest.raises(EmbeddingProviderError) as info:
        emb.embed(texts or TEXTS[:2])
    return info.value


# happy path ---------------------------------------------------------------------------------


def test_embeds_in_order_deterministically_and_batches(provider_stub: ProviderStub) -> None:
    emb = make(provider_stub, batch_size=2)
    assert isinstance(emb, Embedder)
    host = provider_stub.base_url.removeprefix("http://")
    assert (emb.model_id, emb.dim, emb.max_tokens, emb.normalized) == (
        f"openai/text-embedding-3-small@1536+{host}",
        1536,
        8191,
        True,
    )
    out = emb.embed(TEXTS)
    assert out.shape == (5, 1536) and out.dtype == np.float32
    expected = np.stack([vector(t, 1536) for t in TEXTS])
    np.testing.assert_allclose(out, expected, atol=1e-6)  # row i belongs to text i
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(emb.embed(TEXTS), out)

    reqs = provider_stub.requests_for("embeddings")
    assert [len(r.body["input"]) for r in reqs] == [2, 2, 1, 2, 2, 1]
    first = reqs[0]
    assert first.body["model"] == "text-embedding-3-small"
    assert first.body["encoding_format"] == "base64"
    assert "dimensions" not in first.body
    assert first.headers["authorization"] == "[redacted]"
    assert first.headers["x-stainless-retry-count"] == "0"


def test_dimensions_are_requested_and_checked(provider_stub: ProviderStub) -> None:
    emb = make(provider_stub, dimensions=256)
    host = provider_stub.base_url.removeprefix("http://")
    assert emb.model_id == f"openai/text-embedding-3-small@256+{host}"
    out = emb.embed(TEXTS[:3])
    assert out.shape == (3, 256)
    assert provider_stub.requests[0].body["dimensions"] == 256
    large = make(provider_stub, model="text-embedding-3-large")
    assert large.dim == 3072 and large.embed(["x"]).shape == (1, 3072)


def test_empty_input_makes_no_request(provider_stub: ProviderStub) -> None:
    assert make(provider_stub).embed([]).shape == (0, 1536)
    assert provider_stub.count() == 0


def test_token_budget_splits_requests(
    provider_stub: ProviderStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = make(provider_stub)
    counts = emb.count_tokens(TEXTS)
    assert emb.count_tokens(["hello world", ""]) == [2, 0]
    monkeypatch.setattr(oe, "MAX_REQUEST_TOKENS", counts[0] + counts[1])
    emb.embed(TEXTS)
    sizes = [len(r.body["input"]) for r in provider_stub.requests]
    assert sizes[0] == 2 and sum(sizes) == 5 and len(sizes) >= 3
    assert plan_batches([100] * 10, 256, 250) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert plan_batches([300, 1, 1], 256, 250) == [(0, 1), (1, 3)]
    assert plan_batches([1] * 5, 2, 10_000) == [(0, 2), (2, 4), (4, 5)]
    assert plan_batches([], 2, 10) == []


def test_oversized_and_empty_texts_are_refused_before_any_request(
    provider_stub: ProviderStub,
) -> None:
    emb = make(provider_stub)
    with pytest.raises(EmbeddingError, match=r"text 1 has \d+ tokens; .* at most 8191"):
        emb.embed(["short", "word " * 9000])
    with pytest.raises(EmbeddingError, match="text 0 is empty"):
        emb.embed([""])
    assert provider_stub.count() == 0


def test_bad_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="set dimensions"):
        OpenAIEmbedder("my-embedder", api_key="k")
    with pytest.raises(ConfigError, match="does not accept"):
        OpenAIEmbedder("text-embedding-ada-002", api_key="k", dimensions=512)
    with pytest.raises(ConfigError, match="out of range"):
        OpenAIEmbedder("text-embedding-3-small", api_key="k", dimensions=4096)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIEmbedder("text-embedding-3-small", api_key="")
    assert OpenAIEmbedder("custom", api_key="k", dimensions=768).model_id == "openai/custom@768"


# retries: one layer ---------------------------------------------------------------------------


def test_429_waits_for_retry_after_and_sdk_retries_are_off(provider_stub: ProviderStub) -> None:
    provider_stub.script("429:1", "ok")
    out = make(provider_stub).embed(TEXTS[:2])
    assert out.shape == (2, 1536)
    assert provider_stub.count() == 2  # the SDK did not retry on its own
    assert provider_stub.gaps()[0] >= 0.95


def test_retry_after_ms_is_honoured(provider_stub: ProviderStub) -> None:
    provider_stub.script("429:ms=400", "ok")
    make(provider_stub).embed(TEXTS[:1])
    assert provider_stub.count() == 2 and provider_stub.gaps()[0] >= 0.38


def test_server_errors_are_retried(provider_stub: ProviderStub) -> None:
    provider_stub.script("500", "503", "529", "ok")
    assert make(provider_stub).embed(TEXTS).shape == (5, 1536)
    assert [r.behaviour for r in provider_stub.requests] == ["500", "503", "529", "ok"]


def test_bad_request_is_not_retried(provider_stub: ProviderStub) -> None:
    provider_stub.script("400", "ok")
    err = fails(make(provider_stub))
    assert str(err).startswith("openai embeddings: 400 ")
    assert provider_stub.count() == 1


def test_refused_inputs_do_not_open_the_circuit(provider_stub: ProviderStub) -> None:
    # A 400 says "this input", not "the provider is down": five in a row leave the breaker
    # closed (a 500 counts, as before), so one refused document cannot stop an ingest.
    from netdocs.resilience import CircuitBreaker

    emb = make(provider_stub, breaker=CircuitBreaker("test-refused", threshold=3))
    provider_stub.script(*["400"] * 5)
    for _ in range(5):
        fails(emb)
    assert emb.available() and emb.breaker.snapshot().failures == 0
    provider_stub.script(*["500"] * 15)
    for _ in range(3):
        fails(emb)
    assert not emb.available()


def test_timeouts_are_retried_then_raised(provider_stub: ProviderStub) -> None:
    provider_stub.script(*["slow:3"] * 3)
    emb = make(provider_stub, timeout=0.5, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    t0 = time.monotonic()
    err = fails(emb)
    assert "timeout" in str(err) and "after 3 attempts" in str(err)
    assert provider_stub.count() == 3
    # 3 x 0.5 s timeouts at least; without them the stub's 3 s replies would take 9 s.
    assert 1.4 < time.monotonic() - t0 < 8.0


def test_connection_reset_is_retried(provider_stub: ProviderStub) -> None:
    provider_stub.script("reset", "reset", "ok")
    assert make(provider_stub).embed(TEXTS[:2]).shape == (2, 1536)
    assert provider_stub.count() == 3


def test_persistent_resets_end_in_a_connection_error(provider_stub: ProviderStub) -> None:
    provider_stub.script(*["reset"] * 5)
    err = fails(make(provider_stub))
    assert "connection error" in str(err) and "after 5 attempts" in str(err)


def test_total_time_budget_stops_long_retry_after(provider_stub: ProviderStub) -> None:
    provider_stub.script("429:60", "ok")
    err = fails(make(provider_stub, retry=RetryPolicy(max_total=5.0)))
    assert "429" in str(err) and provider_stub.count() == 1


# malformed answers ----------------------------------------------------------------------------


def test_malformed_json_is_a_clear_error(provider_stub: ProviderStub) -> None:
    provider_stub.script("garbage")
    err = fails(make(provider_stub))
    assert "malformed response" in str(err)
    assert provider_stub.count() == 1


def test_wrong_count_and_wrong_dimension_are_caught(provider_stub: ProviderStub) -> None:
    provider_stub.script("wrong-count", "wrong-dim")
    assert "expected 2 vectors, got 3" in str(fails(make(provider_stub)))
    assert "expected dimension 1536, got 1535" in str(fails(make(provider_stub)))


# secrets --------------------------------------------------------------------------------------


def test_api_key_never_leaks(provider_stub: ProviderStub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = Fault(kind="status", status=401, message=f"Incorrect API key provided: {SECRET}.")
    provider_stub.script("500", "reset", echo)
    err = fails(make(provider_stub))
    assert "401 AuthenticationError" in str(err)  # the status and class, not the echoed message
    chain: list[str] = []
    exc: BaseException | None = err
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__
    assert SECRET not in str(err) and SECRET not in repr(err)
    assert any(r.name.startswith(("openai", "httpx")) for r in caplog.records)
    assert SECRET not in caplog.text
    assert "openai embeddings: 500" in caplog.text  # the retries were logged
    assert all(SECRET not in str(r.headers) for r in provider_stub.requests)
    assert SECRET not in repr(make(provider_stub))


# tokenizer offline ----------------------------------------------------------------------------


def test_count_tokens_works_offline_in_a_fresh_process() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    dead = "http://127.0.0.1:9"  # every download attempt would fail fast
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead)
    code = (
        "from netdocs.embedding.openai_embedder import OpenAIEmbedder as E;"
        "e = E('text-embedding-3-small', api_key='k');"
        "print(e.count_tokens(['hello world', 'interface GigabitEthernet0/1']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[2, 7]"
