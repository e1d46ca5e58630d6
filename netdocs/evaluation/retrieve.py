"""The product's retrieval path without the query cache and the audit log (read-only).

The same order users get from ``run_search``: the optional rewrite / rerank stages of
:class:`netdocs.query.rerank.pipeline.RetrievalPlan`, then per-document diversity
(NETDOCS_DIVERSITY_PER_DOC), through :func:`netdocs.query.ranked.ranked_retrieval`.
"""

from __future__ import annotations

import numpy as np

from netdocs.query.ranked import ranked_retrieval
from netdocs.query.rerank.pipeline import RetrievalPlan
from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


def retrieve(
    svc: SearchService, text: str, k: int, mode: Mode, vector: np.ndarray | None
) -> list[Hit]:
    """The top ``k`` for ``text`` as ``svc``'s role, through the configured stages."""
    plan = RetrievalPlan.build(svc.settings)
    found = ranked_retrieval(
        plan,
        svc,
        text,
        k,
        mode,
        vector=vector,
        timings=None,
        per_doc=svc.settings.diversity_per_doc,
    )
    return found.hits
