"""Answers without a language model: the best passages, cited, and a confidence rule (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from netdocs.query.prompt import citations_for
from netdocs.query.results import Citation, Hit

PASSAGES = 3
EXCERPT_CHARS = 600
LABEL = "Extractive fallback"


def low_confidence(hits: Sequence[Hit], min_cosine: float) -> bool:
    """True when retrieval found nothing convincing.

    Convincing means: some chunk contains every query word (full text), or the best cosine
    similarity reaches ``min_cosine``. No hits at all is low confidence.
    """
    if not hits:
        return True
    if any(h.all_terms for h in hits):
        return False
    best = max((h.cosine for h in hits if h.cosine is not None), default=None)
    return best is None or best < min_cosine


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a paragraph, line or sentence end; a
    code block cut open is closed again (the rest of the page would render as code)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    for boundary in ("\n\n", "\n", ". "):
        cut = head.rfind(boundary)
        if cut >= limit // 2:
            return _closed(head[: cut + (1 if boundary == ". " else 0)].rstrip()) + " …"
    return _closed(re.sub(r"\s+\S*$", "", head)) + " …"


def _closed(text: str) -> str:
    return text + "\n```" if text.count("```") % 2 else text


def extractive_answer(
    hits: Sequence[Hit], reason: str, low: bool, passages: int = PASSAGES
) -> tuple[str, list[Citation]]:
    """The fallback answer text and its citations (``[n]`` = ``hits[n-1]``)."""
    chosen = list(hits[:passages])
    lines = [f"{LABEL} ({reason}): the most relevant passages, not a generated answer."]
    if not chosen:
        lines.append("Nothing in the documentation available to you matched this question.")
        return "\n".join(lines), []
    if low:
        lines.append(
            "Low confidence: nothing in the documentation matched this question well; "
            "the passages below are the closest found."
        )
    for n, h in enumerate(chosen, start=1):
        lines.append(f"\n[{n}] {h.path} — {h.heading}\n{excerpt(h.text)}")
    return "\n".join(lines), citations_for(range(1, len(chosen) + 1), chosen)
