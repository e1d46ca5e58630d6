"""The API's request bodies (pydantic): what ``POST /v1/search``, ``/v1/ask`` and
``/v1/feedback`` accept; anything else is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from netdocs.safetext import visible_text

MAX_QUESTION = 2000


def _visible(question: str) -> str:
    if not visible_text(question).strip():  # "\u200b" passes min_length, then is nothing
        raise ValueError("the question has no visible text")
    return question


Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION), AfterValidator(_visible)]


class SearchIn(BaseModel):
    """``POST /v1/search``."""

    question: Question
    k: int = Field(default=5, ge=0, le=50)
    mode: Literal["fused", "dense", "fulltext"] = "fused"
    role: str | None = Field(default=None, description="optional; must be the token's role")
    by: Literal["chunk", "document"] = Field(
        default="chunk", description="'document': list documents (path, best heading, chunks)"
    )


class AskIn(BaseModel):
    """``POST /v1/ask``."""

    question: Question
    k: int | None = Field(default=None, ge=0, le=50)
    role: str | None = Field(default=None, description="optional; must be the token's role")
    passages: bool = Field(default=False, description="include the retrieved passages")


class FeedbackIn(BaseModel):
    """``POST /v1/feedback``."""

    query_id: str = Field(min_length=1, max_length=100)
    rating: Literal["helpful", "not_helpful"]
    comment: str | None = Field(default=None, max_length=2000)
