"""Cache keys (pure): the normalised question, the effective tag set, the settings.

Two callers share a cached result only when every field of the key is equal: the same
normalised question, the same effective tag set (two roles with equal allowed tags share;
different tags never do), the same index generation and the same retrieval/answer settings.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

UNRESTRICTED = "*"
KEY_VERSION = 2  # 2: symbols and inner punctuation are part of the key

#: Prose punctuation: , ; : . ! ? ending a word (followed by a space or the end).
_PROSE = re.compile(r"[,;:.!?]+(?=\s|$)")


def normalise_question(question: str) -> str:
    """NFKC, case-folded, prose punctuation dropped, whitespace collapsed.

    "How do I add a BGP peer?" and "how do i  add a bgp peer" give the same text, and so do
    "keys, and" and "keys and". Every other character stays: the model reads the whole
    question, so what the key dropped could change the answer under a shared key (``!=``
    and ``==``, ``/8`` and `` 8``, or an instruction spelled in symbol letters such as
    🅰🅽🆂🆆🅴🆁, which NFKC does not fold into letters).
    """
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(_PROSE.sub(" ", text).split())


def tags_key(allowed: frozenset[str] | None) -> str | list[str]:
    """The effective tag set as a key field: ``"*"`` for unrestricted, else sorted tags.

    A restricted set can never equal ``"*"``: it is a list, the wildcard a string.
    """
    return UNRESTRICTED if allowed is None else sorted(allowed)


def prompt_version() -> str:
    """A digest of the answering prompts: editing a prompt invalidates cached answers."""
    from netdocs.query import prompt

    text = "\0".join(
        [
            prompt.ANSWER_SYSTEM,
            prompt.ROUTER_SYSTEM,
            prompt.NOT_FOUND_ANSWER,
            prompt.NOT_FOUND,
            prompt.EXCERPT_FORMAT,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key_fields(
    action: str,
    question: str,
    allowed: frozenset[str] | None,
    generation: int,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Every field the cached result depends on (stored with the entry, for inspection)."""
    return {
        "v": KEY_VERSION,
        "action": action,
        "question": normalise_question(question),
        "tags": tags_key(allowed),
        "generation": generation,
        "settings": settings,
    }


def cache_key(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the key fields."""
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def question_sha256(text: str) -> str:
    """Key of the question-embedding cache: sha256 of the exact text embedded."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
