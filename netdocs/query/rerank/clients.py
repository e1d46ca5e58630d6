"""The chat client of the rerank and rewrite stages, built once per configuration.

Building an SDK client costs ~0.1 s (HTTP client, TLS context), too much per query: the
client is kept per configuration (keys enter the cache key only as digests) and gets the
process-wide breaker of its endpoint again at every use, so breaker resets and thresholds
apply to it as to the answer's client.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from netdocs.config import Settings
from netdocs.query.llm import ChatModel, breaker_for, chat_model

_FIELDS = (
    "llm_provider",
    "anthropic_base_url",
    "openai_base_url",
    "anthropic_model",
    "anthropic_router_model",
    "openai_chat_model",
    "openai_router_model",
    "rerank_timeout",
    "rerank_max_attempts",
)
_MAX = 8
_cache: dict[tuple[Any, ...], ChatModel | None] = {}
_lock = threading.Lock()


def _secret(value: Any) -> str | None:
    return None if value is None else hashlib.sha256(value.get_secret_value().encode()).hexdigest()


def _key(settings: Settings) -> tuple[Any, ...]:
    plain = tuple(getattr(settings, name) for name in _FIELDS)
    return (*plain, _secret(settings.anthropic_api_key), _secret(settings.openai_api_key))


def stage_chat(settings: Settings) -> ChatModel | None:
    """The configured chat model with the stages' timeout and attempts (None: no provider
    configured; ConfigError: a provider named without its key)."""
    key = _key(settings)
    with _lock:
        if key in _cache:
            chat = _cache[key]
        else:
            quick = settings.model_copy(
                update={
                    "llm_timeout": settings.rerank_timeout,
                    "llm_max_attempts": settings.rerank_max_attempts,
                }
            )
            chat = chat_model(quick)
            if len(_cache) >= _MAX:
                _cache.pop(next(iter(_cache)))
            _cache[key] = chat
    if chat is not None and hasattr(chat, "breaker"):
        anthropic = chat.provider == "anthropic"
        base_url = settings.anthropic_base_url if anthropic else settings.openai_base_url
        chat.breaker = breaker_for(
            f"{chat.provider}-chat",
            base_url,
            settings.provider_breaker_threshold,
            settings.provider_breaker_cooldown_s,
        )
    return chat
