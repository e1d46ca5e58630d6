"""Search results and answers <-> the JSON stored in ``query_cache.result`` (pure)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from netdocs.query.results import Answer, Citation, Hit


def hits_to_json(hits: list[Hit]) -> list[dict[str, Any]]:
    """Every field of each hit (evidence included)."""
    return [asdict(h) for h in hits]


def hits_from_json(items: list[dict[str, Any]]) -> list[Hit]:
    """The inverse of :func:`hits_to_json`."""
    return [Hit(**{**h, "heading_path": tuple(h.get("heading_path") or ())}) for h in items]


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """Every field of the answer, hits and citations included."""
    data = asdict(answer)
    data["hits"] = hits_to_json(answer.hits)
    return data


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The inverse of :func:`answer_to_json`."""
    fields = dict(data)
    fields["hits"] = hits_from_json(fields.get("hits") or [])
    fields["citations"] = [Citation(**c) for c in fields.get("citations") or []]
    return Answer(**fields)
