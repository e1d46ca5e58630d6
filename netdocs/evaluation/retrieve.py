"""The product's retrieval path without the query cache and the audit log (read-only).

Optional stages live outside ``SearchService.search`` on the branches that add them: the
LLM rewrite / rerank in ``netdocs.query.rerank.pipeline.RetrievalPlan`` and per-document
diversity in ``netdocs.query.ranked.ranked_hits``. This uses the first of those this build
has, else the plain search; after a merge it should name the one uncached entry point.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


def _find(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def retrieve(
    svc: SearchService, text: str, k: int, mode: Mode, vector: np.ndarray | None
) -> list[Hit]:
    """The top ``k`` for ``text`` as ``svc``'s role, through the stages this build has."""
    plan = _find("netdocs.query.rerank.pipeline", "RetrievalPlan")
    if plan is not None:
        hits: list[Hit] = plan.build(svc.settings).search(svc, text, k, mode, vector=vector).hits
        return hits
    ranked = _find("netdocs.query.ranked", "ranked_hits")
    if ranked is not None:
        found: list[Hit] = ranked(svc, text, k, mode, vector=vector)
        return found
    return svc.search(text, k, mode, vector=vector)
