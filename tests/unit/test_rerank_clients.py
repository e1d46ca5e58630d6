"""The rerank/rewrite chat client is built once per configuration and always carries the
endpoint's current process-wide breaker."""

from __future__ import annotations

from typing import Any

from netdocs.config import Settings
from netdocs.query.rerank.clients import stage_chat
from netdocs.resilience import get_breaker, reset_breakers


def settings(**kw: Any) -> Settings:
    env = {"llm_provider": "anthropic", "ANTHROPIC_API_KEY": "k1"}
    env.update(kw)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_one_client_per_configuration() -> None:
    a = stage_chat(settings(ANTHROPIC_BASE_URL="http://127.0.0.1:1"))
    assert a is stage_chat(settings(ANTHROPIC_BASE_URL="http://127.0.0.1:1"))
    assert a is not stage_chat(settings(ANTHROPIC_BASE_URL="http://127.0.0.1:2"))
    assert a is not stage_chat(settings(ANTHROPIC_BASE_URL="http://127.0.0.1:1", rerank_timeout=3))
    other_key = stage_chat(
        settings(ANTHROPIC_BASE_URL="http://127.0.0.1:1", ANTHROPIC_API_KEY="k2")
    )
    assert a is not other_key
    assert stage_chat(settings(llm_provider="none")) is None


def test_the_breaker_is_the_registry_current_one() -> None:
    s = settings(ANTHROPIC_BASE_URL="http://127.0.0.1:3", provider_breaker_threshold=7)
    chat: Any = stage_chat(s)
    assert chat.breaker is get_breaker("anthropic-chat", "http://127.0.0.1:3", threshold=7)
    assert chat.breaker.threshold == 7
    reset_breakers()
    chat = stage_chat(s)
    assert chat.breaker is get_breaker("anthropic-chat", "http://127.0.0.1:3", threshold=7)
