"""The provider stub itself, through the real openai and anthropic SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.stubs import ProviderStub, RecordedRequest

pytest_plugins = ["tests.stubs.fixtures"]

MSG: Any = [{"role": "user", "content": "How do I restart bird?"}]


def oa(stub: ProviderStub) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-a", base_url=stub.openai_base_url, max_retries=0)


def an(stub: ProviderStub) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-b", base_url=stub.anthropic_base_url, max_retries=0)


def test_chat_and_messages_answer_with_the_reply_function(provider_stub: ProviderStub) -> None:
    def reply(req: RecordedRequest) -> str:
        return f"Use birdc [1]. ({req.route})"

    provider_stub.set_reply(reply)
    chat = oa(provider_stub).chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert chat.choices[0].message.content == "Use birdc [1]. (chat)"
    assert chat.id.startswith("chatcmpl-") and chat.usage and chat.usage.completion_tokens == 4
    msg = an(provider_stub).messages.create(model="claude-x", max_tokens=50, messages=MSG)
    assert msg.type == "message" and msg.stop_reason == "end_turn"
    assert msg.content[0].text == "Use birdc [1]. (messages)"  # type: ignore[union-attr]
    assert msg.usage.input_tokens == 5
    req = provider_stub.requests_for("messages")[0]
    assert req.headers["x-api-key"] == "[redacted]" and req.headers["anthropic-version"]


def test_route_queue_goes_before_global_queue(provider_stub: ProviderStub) -> None:
    provider_stub.script("500")
    provider_stub.script("529", route="messages")
    with pytest.raises(anthropic.OverloadedError) as info:
        an(provider_stub).messages.create(model="c", max_tokens=5, messages=MSG)
    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    with pytest.raises(anthropic.InternalServerError):
        an(provider_stub).messages.create(model="c", max_tokens=5, messages=MSG)
    assert provider_stub.faults.pending() == 0
    assert [r.behaviour for r in provider_stub.requests] == ["529", "500"]


def test_rate_limit_headers_reset_and_missing_headers(provider_stub: ProviderStub) -> None:
    provider_stub.script("429:2", "429:ms=300", "reset")
    client = oa(provider_stub)
    with pytest.raises(openai.RateLimitError) as first:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert first.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.RateLimitError) as second:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert second.value.response.headers["retry-after-ms"] == "300"
    assert "retry-after" not in second.value.response.headers
    with pytest.raises(openai.APIConnectionError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    raw = httpx.post(f"{provider_stub.base_url}/v1/messages", json={}, headers={"x-api-key": "k"})
    assert raw.status_code == 400 and "anthropic-version" in raw.text
    raw = httpx.post(f"{provider_stub.openai_base_url}/embeddings", json={})
    assert raw.status_code == 401
    assert [r.behaviour for r in provider_stub.requests][-2:] == ["rejected", "rejected"]


def test_unknown_behaviour_is_refused_and_reset_forgets() -> None:
    with ProviderStub() as stub:
        with pytest.raises(ValueError, match="unknown stub behaviour"):
            stub.script("teapot")
        stub.script("500")
        stub.reset()
        assert stub.faults.pending() == 0 and stub.count() == 0
    with pytest.raises(RuntimeError):
        _ = stub.base_url
