"""The settings parts of the query-cache key, worked out once for the event-loop path.

Building an ``Answerer`` makes a provider SDK client (10-30 ms on this host where a key is
configured), and a retrieval plan with an LLM stage makes another: more than serving a
cached answer takes. Both depend on the server's settings only, which do not change while
it runs, so they are built once. A plan naming a reranker model on disk is rebuilt each
time: its key holds the model's version, read from the folder as the threaded path does.
"""

from __future__ import annotations

from typing import Any

from netdocs.config import Settings
from netdocs.query import api
from netdocs.query.answerer import Answerer
from netdocs.query.rerank.pipeline import RetrievalPlan


class KeyParts:
    """The answerer's and the retrieval plan's parts of a cache key, for ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._answer: dict[str, Any] | None = None
        self._plan: RetrievalPlan | None = None

    def answer(self) -> dict[str, Any]:
        """``api.answer_settings`` of this server's answerer."""
        if self._answer is None:
            self._answer = api.answer_settings(Answerer(self.settings))
        return self._answer

    def plan(self) -> RetrievalPlan:
        """This server's retrieval plan."""
        plan = self._plan or RetrievalPlan.build(self.settings)
        if plan.rerank != "onnx":
            self._plan = plan
        return plan
