"""Retrieved hits -> a cited Answer: the chat model when configured, else the fallback."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Literal

from netdocs.config import Settings, get_settings
from netdocs.query import prompt
from netdocs.query.fallback import extractive_answer, low_confidence
from netdocs.query.llm import AnswerProviderError, ChatModel, Completion, chat_model
from netdocs.query.results import Answer, Citation, Hit
from netdocs.query.timing import timed

log = logging.getLogger(__name__)


#: Appended to an answer the model could not finish.
CUT = "[Answer cut short at the output-token limit (NETDOCS_LLM_MAX_OUTPUT_TOKENS).]"


def new_query_id() -> str:
    """A fresh query id."""
    return str(uuid.uuid4())


class Answerer:
    """Writes answers from hits: ``chat`` defaults to the configured provider; ``None``
    forces the extractive fallback.

    Flow: no hits -> fallback; router enabled and it says "not relevant" -> not answered;
    answering model -> cited answer; provider failure or open circuit -> fallback.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        chat: ChatModel | None | Literal["configured"] = "configured",
        *,
        router: bool | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.chat = chat_model(self.settings) if chat == "configured" else chat
        self.router = self.settings.llm_router if router is None else router

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        query_id: str | None = None,
        started: float | None = None,
        timings: dict[str, float] | None = None,
    ) -> Answer:
        """Answer ``question`` from ``hits``; ``started`` (perf_counter) dates the latency.

        ``timings``, when given, receives ``generate_ms``: the time spent writing the answer
        (model calls with their retries, or the extractive fallback).
        """
        started = time.perf_counter() if started is None else started
        with timed(timings, "generate_ms"):
            result = self._answer(question, hits, query_id or new_query_id())
        result.latency_ms = (time.perf_counter() - started) * 1000.0
        return result

    def _answer(self, question: str, hits: Sequence[Hit], query_id: str) -> Answer:
        low = low_confidence(hits, self.settings.fallback_min_cosine)
        if self.chat is None:
            result = self._fallback(query_id, question, hits, low, "no language model configured")
        elif not hits:
            result = self._fallback(query_id, question, hits, low, "no passage retrieved")
        else:
            try:
                result = self._generate(self.chat, query_id, question, hits, low)
            except AnswerProviderError as e:
                log.warning("answering model unavailable, extractive fallback: %s", e)
                result = self._fallback(query_id, question, hits, low, f"provider error: {e}")
        return result

    def _fallback(
        self, query_id: str, question: str, hits: Sequence[Hit], low: bool, reason: str
    ) -> Answer:
        text, citations = extractive_answer(hits, reason, low)
        return Answer(
            query_id=query_id,
            question=question,
            answer=text,
            answered=not low,
            mode="fallback",
            model=None,
            citations=citations,
            hits=list(hits),
            low_confidence=low,
            note=reason,
        )

    def _generate(
        self, chat: ChatModel, query_id: str, question: str, hits: Sequence[Hit], low: bool
    ) -> Answer:
        calls: list[Completion] = []
        max_tokens = self.settings.llm_max_output_tokens
        user = prompt.answer_prompt(question, hits)
        if self.router:
            verdict = chat.complete(
                prompt.ROUTER_SYSTEM, user, model=chat.router_model, max_tokens=5
            )
            calls.append(verdict)
            if not prompt.router_says_relevant(verdict.text):
                return self._llm_answer(
                    query_id,
                    question,
                    hits,
                    calls,
                    prompt.NOT_FOUND_ANSWER,
                    False,
                    [],
                    low,
                    note=f"router {verdict.model}: context not relevant",
                )
        reply = chat.complete(prompt.ANSWER_SYSTEM, user, model=chat.model, max_tokens=max_tokens)
        calls.append(reply)
        text, answered, citations = prompt.read_answer(reply.text, hits)
        note = None
        if reply.truncated:  # shown, flagged, not cached (see query.api)
            text += f"\n\n{CUT}"
            note = f"the reply stopped at the output-token limit ({max_tokens})"
        elif answered and not citations:
            note = "the answer cites no excerpt"
        result = self._llm_answer(
            query_id,
            question,
            hits,
            calls,
            text,
            answered,
            citations,
            low or note is not None,
            note=note,
        )
        result.truncated = reply.truncated
        return result

    @staticmethod
    def _llm_answer(
        query_id: str,
        question: str,
        hits: Sequence[Hit],
        calls: list[Completion],
        text: str,
        answered: bool,
        citations: list[Citation],
        low: bool,
        note: str | None = None,
    ) -> Answer:
        costs = [c.cost_usd for c in calls]
        return Answer(
            query_id=query_id,
            question=question,
            answer=text,
            answered=answered,
            mode="llm",
            model=calls[-1].model,
            citations=citations,
            hits=list(hits),
            input_tokens=sum(c.input_tokens for c in calls),
            output_tokens=sum(c.output_tokens for c in calls),
            cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            low_confidence=low,
            note=note,
        )
