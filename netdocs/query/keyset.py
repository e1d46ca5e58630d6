"""The settings part of the query-cache keys (pure): what changes a search's hits or an
ask's answer, so that two calls share a cache entry only when they would agree."""

from __future__ import annotations

from typing import Any, Literal

from netdocs.cache.keys import prompt_version
from netdocs.query.answerer import Answerer
from netdocs.query.rerank.pipeline import RetrievalPlan
from netdocs.query.search import Mode

By = Literal["chunk", "document"]


def answer_settings(answerer: Answerer) -> dict[str, Any]:
    """The answerer's settings that change an answer (part of the cache key)."""
    chat, s = answerer.chat, answerer.settings
    llm = None
    if chat is not None:
        llm = {
            "provider": chat.provider,
            "model": chat.model,
            "endpoint": getattr(chat, "endpoint", ""),  # another server, another model
            "router": chat.router_model if answerer.router else None,
            "max_tokens": s.llm_max_output_tokens,
            "prompt": prompt_version(),
        }
    return {"llm": llm, "min_cosine": s.fallback_min_cosine}


def search_key_settings(
    k: int, mode: Mode, by: By, per_doc: int, plan: RetrievalPlan
) -> dict[str, Any]:
    """A search's settings part of the cache key (pure)."""
    return {"mode": mode, "k": k, "per_doc": per_doc, "by": by, **plan.key()}


def ask_key_settings(
    k: int, mode: Mode, per_doc: int, answerer: Answerer, plan: RetrievalPlan
) -> dict[str, Any]:
    """An ask's settings part of the cache key (pure)."""
    return ask_key_of(k, mode, per_doc, answer_settings(answerer), plan)


def ask_key_of(
    k: int, mode: Mode, per_doc: int, answer: dict[str, Any], plan: RetrievalPlan
) -> dict[str, Any]:
    """As :func:`ask_key_settings`, from the answerer's settings computed once."""
    return {"mode": mode, "k": k, "per_doc": per_doc, "answer": answer, **plan.key()}
