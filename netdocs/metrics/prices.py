"""Prices of model calls from the configured tables (USD per million tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from netdocs.config import Settings

T = TypeVar("T")


def longest_prefix(table: Mapping[str, T], model: str) -> T | None:
    """The entry whose key is the longest prefix of ``model`` (dated ids find their family)."""
    matches = [name for name in table if model.startswith(name)]
    return table[max(matches, key=len)] if matches else None


def chat_cost(
    settings: Settings, model: str, input_tokens: int, output_tokens: int
) -> float | None:
    """The price of a chat call: NETDOCS_CHAT_PRICES_PER_MTOK first, then the built-in table;
    None when the model is in neither."""
    price = longest_prefix(settings.chat_prices_per_mtok, model)
    if price is None:
        from netdocs.query.llm import cost_usd

        return cost_usd(model, input_tokens, output_tokens)
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


def embedding_model_name(model_id: str) -> str | None:
    """The provider's model name of a paid embedder's model id (``openai/NAME@dim``); None
    for the local and hashing embedders, which cost nothing per token."""
    if not model_id.startswith("openai/"):
        return None
    return model_id.removeprefix("openai/").split("@", 1)[0]


def embedding_cost(settings: Settings, model_id: str, tokens: int) -> float | None:
    """The price of embedding ``tokens`` tokens; None for an unpaid or unpriced model."""
    name = embedding_model_name(model_id)
    price = None if name is None else longest_prefix(settings.embedding_prices_per_mtok, name)
    return None if price is None else tokens * price / 1_000_000
