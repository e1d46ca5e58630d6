"""Stub replies for the retrieval stages (rerank, rewrite), answering like the models would.

A chat/messages request is told apart by its system prompt (netdocs' rerank or rewrite
prompt); anything else gets the plain answer text. Use with :class:`ProviderStub`::

    stub.set_reply(retrieval_reply(rerank=by_text({"route-reflector-client": 10})))

:func:`replay_reply` serves recorded replies from a JSON file (see tests/stubs/replay.py
for the command that runs it as a server for eval).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.stubs.provider_server import RecordedRequest

_PASSAGE = re.compile(
    r'<passage n="(\d+)" path="([^"]*)" heading="([^"]*)">(.*?)</passage>', re.DOTALL
)


@dataclass(frozen=True)
class Passage:
    """One candidate as the rerank prompt shows it."""

    n: int
    path: str
    heading: str
    text: str


#: Scores one passage (None: leave it out of the reply).
ScoreFn = Callable[[Passage], float | None]
#: The rerank reply text for (question, passages); the rewrite reply text for a question.
RerankFn = Callable[[str, list[Passage]], str]
RewriteFn = Callable[[str], str]


def system_and_user(body: Any) -> tuple[str, str]:
    """The system prompt and the (last) user message of an OpenAI or Anthropic request."""
    system, user = "", ""
    if not isinstance(body, dict):
        return system, user
    if isinstance(body.get("system"), str):
        system = body["system"]
    for msg in body.get("messages") or []:
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        if isinstance(content, list):
            text = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        if msg.get("role") == "system":
            system = text
        elif msg.get("role") == "user":
            user = text
    return system, user


def passages(user: str) -> list[Passage]:
    """The numbered candidates of a rerank prompt."""
    return [Passage(int(n), p, h, t) for n, p, h, t in _PASSAGE.findall(user)]


def question_of(user: str) -> str:
    """The question at the end of a rerank or rewrite prompt."""
    _, found, question = user.rpartition("Question: ")
    return question.strip() if found else ""


def scores_reply(score: ScoreFn) -> RerankFn:
    """A rerank reply: a JSON object {"n": score} for every passage ``score`` scores."""

    def reply(_question: str, items: list[Passage]) -> str:
        out = {str(p.n): s for p in items if (s := score(p)) is not None}
        return json.dumps(out)

    return reply


def by_text(weights: Mapping[str, float]) -> RerankFn:
    """Scores each passage by the weights of the marker strings its text contains; a
    passage containing none scores 0."""
    return scores_reply(lambda p: sum(w for m, w in weights.items() if m in p.text))


def rewrite_json(queries: list[str], passage: str | None = None) -> RewriteFn:
    """A rewrite reply with these queries (and hypothetical passage)."""
    obj: dict[str, Any] = {"queries": queries}
    if passage is not None:
        obj["passage"] = passage
    return lambda _question: json.dumps(obj)


def retrieval_reply(
    *,
    rerank: RerankFn | None = None,
    rewrite: RewriteFn | None = None,
    answer: str = "stub answer",
) -> Callable[[RecordedRequest], str]:
    """A stub reply function dispatching on netdocs' rerank / rewrite system prompts."""
    from netdocs.query.rerank.llm import RERANK_SYSTEM
    from netdocs.query.rerank.rewrite import REWRITE_SYSTEM

    def reply(req: RecordedRequest) -> str:
        system, user = system_and_user(req.body)
        if system == RERANK_SYSTEM and rerank is not None:
            return rerank(question_of(user), passages(user))
        if system == REWRITE_SYSTEM and rewrite is not None:
            return rewrite(question_of(user))
        return answer

    return reply


def replay_reply(recorded: Path | Mapping[str, Any]) -> Callable[[RecordedRequest], str]:
    """Replies from a recording: ``{"rerank": {question: SCORES | "raw reply"},
    "rewrite": {question: {"queries": [...], "passage": "..."} | "raw reply"},
    "answer": "text"}``, questions matched after netdocs' cache normalisation (case,
    spaces, prose punctuation). SCORES maps a document path, or "path#heading", to a score for
    every candidate from it; a raw string is returned as recorded. A question missing from
    the recording gets ``{}`` (netdocs then keeps the offline order and says so)."""
    from netdocs.cache.keys import normalise_question as norm

    data = json.loads(Path(recorded).read_text()) if isinstance(recorded, Path) else recorded
    rerank = {norm(q): v for q, v in (data.get("rerank") or {}).items()}
    rewrite = {norm(q): v for q, v in (data.get("rewrite") or {}).items()}

    def rerank_fn(question: str, items: list[Passage]) -> str:
        rec = rerank.get(norm(question), {})
        if isinstance(rec, str):
            return rec
        scored = {p.n: rec.get(f"{p.path}#{p.heading}", rec.get(p.path)) for p in items}
        return json.dumps({str(n): s for n, s in scored.items() if s is not None})

    def rewrite_fn(question: str) -> str:
        rec = rewrite.get(norm(question), {})
        return rec if isinstance(rec, str) else json.dumps(rec)

    return retrieval_reply(
        rerank=rerank_fn, rewrite=rewrite_fn, answer=str(data.get("answer", "stub answer"))
    )
