"""Chat models for answering: Anthropic and OpenAI SDKs behind one small interface.

The SDK clients are built with ``max_retries=0``: retrying lives in
:func:`netdocs.resilience.retry_call` only. A per-provider circuit breaker stops calling a
provider that keeps failing, so questions fall back to extractive answers at once instead
of each waiting through the retries. SDKs are imported only when a client is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Protocol

from netdocs.config import Settings
from netdocs.embedding.openai_embedder import endpoint_suffix
from netdocs.errors import ConfigError, NetdocsError
from netdocs.query import deadline
from netdocs.resilience import (
    REFUSED_INPUT,
    CircuitBreaker,
    RetryPolicy,
    get_breaker,
    retry_call,
    short_error,
    status_of,
)

#: USD per million (input, output) tokens; matched on the longest model-name prefix so dated
#: ids ("claude-sonnet-4-5-20250929") find their family.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.4),
    "gpt-5": (1.25, 10.0),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The price of one call, or None for a model missing from the table."""
    matches = [name for name in PRICES_PER_MTOK if model.startswith(name)]
    if not matches:
        return None
    price_in, price_out = PRICES_PER_MTOK[max(matches, key=len)]
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000


class AnswerProviderError(NetdocsError):
    """The chat provider failed after retries, or its circuit is open."""


@dataclass(frozen=True)
class Completion:
    """One model reply and its token usage."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    truncated: bool = False  # the reply stopped at the output-token limit

    @property
    def cost_usd(self) -> float | None:
        """Price of this call (None when the model's price is unknown)."""
        return cost_usd(self.model, self.input_tokens, self.output_tokens)


class ChatModel(Protocol):
    """A provider that completes a (system, user) exchange with a given model."""

    provider: str
    model: str  # the answering model
    router_model: str  # the cheaper model for routing

    def complete(self, system: str, user: str, *, model: str, max_tokens: int) -> Completion:
        """One completion; raises AnswerProviderError when the provider cannot answer."""
        ...


def breaker_for(
    provider: str, base_url: str | None, threshold: int = 3, cooldown: float = 30.0
) -> CircuitBreaker:
    """The process-wide breaker of one chat provider endpoint (see netdocs.resilience)."""
    return get_breaker(provider, base_url, threshold=threshold, cooldown=cooldown)


class _SDKChat(ABC):
    """Shared plumbing: breaker, retries, error wrapping (the subclass makes the call)."""

    provider = "?"

    def __init__(
        self,
        api_key: str,
        *,
        model: str,
        router_model: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        breaker: tuple[int, float] = (3, 30.0),
    ) -> None:
        self.model, self.router_model = model, router_model
        self.endpoint = endpoint_suffix(base_url)  # part of the answer-cache key
        self.retry, self.timeout = retry or RetryPolicy(), timeout
        self.breaker = breaker_for(f"{self.provider}-chat", base_url, *breaker)
        self._client: Any = self._make_client(api_key, base_url, timeout)

    @staticmethod
    @abstractmethod
    def _make_client(api_key: str, base_url: str | None, timeout: float) -> Any:
        """The SDK client, with the SDK's own retries off."""

    @abstractmethod
    def _call(self, client: Any, model: str, system: str, user: str, max_tokens: int) -> Completion:
        """One SDK request through ``client`` (no retries)."""

    def complete(self, system: str, user: str, *, model: str, max_tokens: int) -> Completion:
        """One completion through the retry layer and the circuit breaker, within the ask's
        deadline (see :mod:`netdocs.query.deadline`)."""
        if not self.breaker.allow():
            raise AnswerProviderError(f"{self.provider}: circuit open after repeated failures")
        cut = False

        def attempt() -> Completion:
            nonlocal cut
            left = deadline.remaining()
            if left is not None and left < deadline.MIN_CALL_S:
                raise deadline.DeadlinePassed()
            client = self._client
            if left is not None and left < self.timeout:
                cut, client = True, client.with_options(timeout=left)
            return self._call(client, model, system, user, max_tokens)

        left = deadline.remaining()
        policy = (
            self.retry
            if left is None
            else replace(self.retry, max_total=max(0.0, min(self.retry.max_total, left)))
        )
        try:
            result = retry_call(attempt, policy, what=f"{self.provider} {model}")
        except Exception as e:
            timed_out = cut and "timeout" in type(e).__name__.lower()  # APITimeoutError
            if isinstance(e, deadline.DeadlinePassed) or timed_out:  # our limit, not theirs
                what = f"cut the call: {short_error(e)}" if timed_out else "left too little"
                raise AnswerProviderError(
                    f"{self.provider} {model}: the ask's {deadline.budget():g} s deadline"
                    f" (NETDOCS_ASK_DEADLINE_S) {what}"
                ) from e
            if status_of(e) not in REFUSED_INPUT:  # a refused prompt says nothing of health
                self.breaker.failure()
            raise AnswerProviderError(f"{self.provider} {model}: {short_error(e)}") from e
        self.breaker.success()
        return result


class AnthropicChat(_SDKChat):
    """Claude through the ``anthropic`` SDK (messages API)."""

    provider = "anthropic"

    @staticmethod
    def _make_client(api_key: str, base_url: str | None, timeout: float) -> Any:
        import anthropic

        return anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def _call(self, client: Any, model: str, system: str, user: str, max_tokens: int) -> Completion:
        resp: Any = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            temperature=0.0,
            messages=[{"role": "user", "content": user}],
        )
        text = "".join(getattr(b, "text", "") for b in resp.content if b.type == "text")
        usage = resp.usage
        cut = getattr(resp, "stop_reason", None) == "max_tokens"
        return Completion(text, str(resp.model), usage.input_tokens, usage.output_tokens, cut)


class OpenAIChat(_SDKChat):
    """GPT models through the ``openai`` SDK (chat completions)."""

    provider = "openai"

    @staticmethod
    def _make_client(api_key: str, base_url: str | None, timeout: float) -> Any:
        import openai

        return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    def _call(self, client: Any, model: str, system: str, user: str, max_tokens: int) -> Completion:
        resp: Any = client.chat.completions.create(
            model=model,
            max_completion_tokens=max_tokens,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        )
        text = resp.choices[0].message.content or ""
        cut = resp.choices[0].finish_reason == "length"
        usage = resp.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        return Completion(text, str(resp.model), tokens_in, tokens_out, cut)


def chat_model(settings: Settings) -> ChatModel | None:
    """The configured chat model, or None when no provider is configured (fallback only)."""
    provider = settings.llm_provider
    if provider == "none":
        return None
    anthropic_key = settings.anthropic_api_key
    openai_key = settings.openai_api_key
    if provider == "auto":
        provider = "anthropic" if anthropic_key else "openai" if openai_key else "none"
    chats: dict[str, tuple[type[_SDKChat], Any, str, str, str | None]] = {
        "anthropic": (
            AnthropicChat,
            anthropic_key,
            settings.anthropic_model,
            settings.anthropic_router_model,
            settings.anthropic_base_url,
        ),
        "openai": (
            OpenAIChat,
            openai_key,
            settings.openai_chat_model,
            settings.openai_router_model,
            settings.openai_base_url,
        ),
    }
    if provider not in chats:
        return None
    cls, key, model, router_model, base_url = chats[provider]
    if key is None:
        raise ConfigError(f"NETDOCS_LLM_PROVIDER={provider} needs {provider.upper()}_API_KEY")
    return cls(
        key.get_secret_value(),
        model=model,
        router_model=router_model,
        base_url=base_url,
        timeout=settings.llm_timeout,
        retry=RetryPolicy(max_attempts=settings.llm_max_attempts, max_total=settings.llm_timeout),
        breaker=(settings.provider_breaker_threshold, settings.provider_breaker_cooldown_s),
    )
