"""The LlamaIndex query engine and ``query_engine()``, the notebook entry point."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Literal

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore

from netdocs.config import Settings, get_settings
from netdocs.embedding.base import Embedder
from netdocs.query.answerer import Answerer
from netdocs.query.deadline import ask_deadline
from netdocs.query.llm import ChatModel
from netdocs.query.results import Answer
from netdocs.query.retriever import NetdocsRetriever, hit_to_node, node_to_hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


def to_response(answer: Answer) -> Response:
    """A LlamaIndex Response: ``source_nodes`` are the cited chunks (metadata ``citation``
    = n), ``metadata`` the ``netdocs ask --json`` fields plus ``low_confidence``, ``note``
    and ``retrieved`` (every chunk given to the answerer, in rank order)."""
    by_id = {h.chunk_id: h for h in answer.hits}
    sources: list[NodeWithScore] = []
    for c in answer.citations:
        node = hit_to_node(by_id[c.chunk_id])
        node.node.metadata["citation"] = c.n
        sources.append(node)
    metadata: dict[str, Any] = answer.to_json()
    metadata.update(
        low_confidence=answer.low_confidence,
        note=answer.note,
        retrieved=[{k: v for k, v in h.to_json().items() if k != "text"} for h in answer.hits],
    )
    return Response(response=answer.answer, source_nodes=sources, metadata=metadata)


class NetdocsQueryEngine(CustomQueryEngine):
    """Retrieve with ``retriever``, answer with ``answerer`` (LLM or extractive fallback).

    ``query()`` returns a ``Response`` with cited ``source_nodes``; ``aquery()`` runs the
    same work in a worker thread, so several questions can wait on the model at once.
    """

    retriever: BaseRetriever
    answerer: Answerer
    service: SearchService | None = None

    def custom_query(self, query_str: str) -> Response:
        """Answer one question (through ``run_ask``: cached and audited, ``metadata``
        carries ``cache_hit``); a foreign retriever is used directly."""
        if isinstance(self.retriever, NetdocsRetriever):
            from netdocs.query.api import run_ask

            r = self.retriever
            result = run_ask(r.service, query_str, r.k, r.mode, answerer=self.answerer)
            response = to_response(result.answer)
            assert response.metadata is not None
            response.metadata["cache_hit"] = result.cache_hit
            return response
        started = time.perf_counter()
        hits = [node_to_hit(n) for n in self.retriever.retrieve(query_str)]
        with ask_deadline(self.answerer.settings.ask_deadline_s):
            return to_response(self.answerer.answer(query_str, hits, started=started))

    async def acustom_query(self, query_str: str) -> Response:
        """Answer one question without blocking the event loop."""
        return await asyncio.to_thread(self.custom_query, query_str)

    def close(self) -> None:
        """Release the database connection."""
        if self.service is not None:
            self.service.close()


def query_engine(
    role: str | None = None,
    *,
    policy: Path | str | None = None,
    k: int | None = None,
    mode: Mode = "fused",
    settings: Settings | None = None,
    chat: ChatModel | None | Literal["configured"] = "configured",
    embedder: Embedder | None = None,
) -> NetdocsQueryEngine:
    """A query engine for ``role`` (default NETDOCS_ROLE) over the configured index.

    The role resolves against ``policy`` (default NETDOCS_POLICY, else the policy stored
    in the index); an unknown or missing role, or a role with no policy at all, raises
    ``AccessDenied`` (see ``netdocs.query.access``). ``chat=None`` forces the
    extractive fallback; by default Anthropic (ANTHROPIC_API_KEY) or OpenAI answers.
    """
    settings = settings or get_settings()
    service = SearchService.for_role(role, policy, settings=settings, embedder=embedder)
    retriever = NetdocsRetriever(service, k=k or settings.answer_top_k, mode=mode)
    answerer = Answerer(settings, chat=chat)
    return NetdocsQueryEngine(retriever=retriever, answerer=answerer, service=service)
