"""The LlamaIndex retriever: hybrid search with the role's tags enforced in SQL."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.service import SearchService

_EVIDENCE = ("path", "heading", "heading_path", "chunk_id", "cosine", "text_rank", "all_terms")


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A NodeWithScore whose TextNode id is the chunk id and metadata the citation fields."""
    metadata: dict[str, Any] = {
        "path": hit.path,
        "heading": hit.heading,
        "heading_path": list(hit.heading_path),
        "chunk_id": hit.chunk_id,
        "cosine": hit.cosine,
        "text_rank": hit.text_rank,
        "all_terms": hit.all_terms,
    }
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(_EVIDENCE),
        excluded_llm_metadata_keys=[k for k in _EVIDENCE if k not in ("path", "heading")],
    )
    return NodeWithScore(node=node, score=hit.score)


def node_to_hit(nws: NodeWithScore) -> Hit:
    """The inverse of :func:`hit_to_node` (works for any node carrying those metadata)."""
    md = nws.node.metadata
    return Hit(
        chunk_id=str(md.get("chunk_id", nws.node.node_id)),
        path=str(md.get("path", "")),
        heading=str(md.get("heading", "")),
        text=nws.node.get_content(),
        score=float(nws.score or 0.0),
        heading_path=tuple(md.get("heading_path") or ()),
        cosine=md.get("cosine"),
        text_rank=md.get("text_rank"),
        all_terms=bool(md.get("all_terms", False)),
    )


class NetdocsRetriever(BaseRetriever):
    """Dense + full-text retrieval fused by reciprocal rank fusion, per role.

    A query bundle that already carries an embedding of the index's dimension is searched
    with it; otherwise the service embeds the query with the index's model.
    """

    def __init__(
        self,
        service: SearchService,
        k: int = 5,
        mode: Mode = "fused",
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.service, self.k, self.mode = service, k, mode

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vector = None
        model = self.service.index_model
        if query_bundle.embedding is not None and model and len(query_bundle.embedding) == model[1]:
            import numpy as np

            vector = np.asarray(query_bundle.embedding, dtype=np.float32)
        from netdocs.query.api import run_search  # cached and audited like every query

        result = run_search(self.service, query_bundle.query_str, self.k, self.mode, vector=vector)
        return [hit_to_node(h) for h in result.hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)
