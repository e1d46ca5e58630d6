"""The LLM question rewriter: the cheaper chat model restates a question in the
documents' vocabulary (a few search queries and a short hypothetical answer passage)."""

from __future__ import annotations

from netdocs.query.llm import ChatModel, Completion
from netdocs.query.rerank.base import RerankError
from netdocs.query.rerank.llm import clip, json_object

REWRITE_SYSTEM = """You help search the internal documentation of a network team \
(routers, switches, firewalls, DNS, Linux networking). Rewrite the user's question into \
the words such documentation would use: configuration commands, option names, protocol \
terms. Reply with ONLY a JSON object: {"queries": [up to 3 short search queries], \
"passage": "two or three sentences a manual page answering the question might contain"}."""

MAX_QUERIES = 3
MAX_QUERY_CHARS = 200
MAX_PASSAGE_CHARS = 600
MAX_OUTPUT_TOKENS = 300


def parse_rewrites(reply: str, question: str) -> list[str]:
    """The extra queries of a reply: up to 3 queries then the passage, each non-empty,
    clipped, and different from the question and each other. Raises RerankError when the
    reply holds none."""
    obj = json_object(reply)
    raw = obj.get("queries")
    queries = [q for q in raw if isinstance(q, str)] if isinstance(raw, list) else []
    out = [clip(q, MAX_QUERY_CHARS) for q in queries[:MAX_QUERIES]]
    passage = obj.get("passage")
    if isinstance(passage, str):
        out.append(clip(passage, MAX_PASSAGE_CHARS))
    seen = {" ".join(question.casefold().split())}
    unique = []
    for q in out:
        norm = q.casefold()
        if q and norm not in seen:
            seen.add(norm)
            unique.append(q)
    if not unique:
        raise RerankError("rewrite reply holds no usable query")
    return unique


class LLMRewriter:
    """Rewrites questions with the chat model's cheaper router model."""

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat
        self.model = chat.router_model
        self.name = f"llm {chat.provider}/{self.model}"
        self.calls: list[Completion] = []

    def rewrite(self, question: str) -> list[str]:
        """Extra queries for ``question``; raises AnswerProviderError / RerankError."""
        reply = self.chat.complete(
            REWRITE_SYSTEM,
            f"Question: {clip(question, 1000)}",
            model=self.model,
            max_tokens=MAX_OUTPUT_TOKENS,
        )
        self.calls.append(reply)
        return parse_rewrites(reply.text, question)
