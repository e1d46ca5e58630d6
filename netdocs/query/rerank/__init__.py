"""Optional retrieval stages after the offline fused search: question rewriting and
reranking. Both are off by default and fall back to the offline order on any failure.

- ``base``      the ``Reranker`` protocol and the pure reordering of scored candidates
- ``llm``       the LLM reranker (scores per candidate label from the cheaper chat model)
- ``onnx``      a cross-encoder from ``NETDOCS_RERANK_MODEL_DIR`` (model.onnx + tokenizer.json)
- ``rewrite``   the LLM question rewriter (extra queries in the documents' vocabulary)
- ``pipeline``  wires them around ``SearchService.search`` (used by ``netdocs.query.api``)
"""

from netdocs.query.rerank.base import Reranker, RerankError, order_by_scores

__all__ = ["RerankError", "Reranker", "order_by_scores"]
