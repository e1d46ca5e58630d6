"""Plain result types of the query side and their JSON shapes (no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnswerMode = Literal["llm", "fallback"]


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    ``score`` is the ranking score of the mode that produced the hit (RRF score when fused,
    cosine similarity for dense, ``ts_rank_cd`` for full text). ``cosine`` and ``text_rank``
    keep the per-list evidence (None when the chunk was not in that list); ``all_terms`` is
    True when the chunk matched every query term in full text.
    """

    chunk_id: str
    path: str
    heading: str
    text: str
    score: float
    heading_path: tuple[str, ...] = ()
    cosine: float | None = None
    text_rank: float | None = None
    all_terms: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs search --json`` result shape."""
        return {
            "path": self.path,
            "heading": self.heading,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
            "text": self.text,
        }


@dataclass(frozen=True)
class Citation:
    """Source ``[n]`` of an answer."""

    n: int
    path: str
    heading: str
    chunk_id: str

    def to_json(self) -> dict[str, Any]:
        """The citation shape of ``netdocs ask --json``."""
        return {"n": self.n, "path": self.path, "heading": self.heading, "chunk_id": self.chunk_id}


@dataclass
class Answer:
    """The answer to one question, with what it cost and where it came from."""

    query_id: str
    question: str
    answer: str
    answered: bool
    mode: AnswerMode
    model: str | None
    citations: list[Citation]
    hits: list[Hit] = field(default_factory=list)
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    low_confidence: bool = False
    note: str | None = None  # why the fallback was used, or what the router decided
    truncated: bool = False  # the model's reply stopped at the output-token limit

    def to_json(self) -> dict[str, Any]:
        """The ``netdocs ask --json`` shape (exactly the fields the CLI promises)."""
        return {
            "query_id": self.query_id,
            "answer": self.answer,
            "answered": self.answered,
            "mode": self.mode,
            "model": self.model,
            "citations": [c.to_json() for c in self.citations],
            "latency_ms": round(self.latency_ms, 1),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "low_confidence": self.low_confidence,
        }
