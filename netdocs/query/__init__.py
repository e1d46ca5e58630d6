"""Query side: hybrid retrieval with access control, cited answers, extractive fallback.

Modules (framework-free unless noted):

- ``results``  plain result types (Hit, Citation, Answer) and their JSON shapes
- ``fusion``   reciprocal rank fusion (pure)
- ``sql``      SQL builders for dense, full-text and permitted-count queries (pure)
- ``terms``    full-text lexeme weights (IDF from pg_stats) and candidate selection
- ``search``   ``search(conn, text, vector, allowed, k, mode)``: runs the SQL, fuses
- ``access``   role / policy -> the allowed tag set
- ``service``  a connection + embedder + role bundle answering searches
- ``llm``      Anthropic / OpenAI chat clients (SDKs, no SDK retries) and prices
- ``prompt``   the answer prompt and citation parsing (pure)
- ``fallback`` extractive answers and the low-confidence rule (pure)
- ``answerer`` hits -> Answer with an LLM, a router, or the fallback
- ``api``      ``run_search`` / ``run_ask``: the one entry point (caches, audit, hooks)
- ``hooks``    post-query callbacks receiving a ``QueryRecord``
- ``retriever`` LlamaIndex ``BaseRetriever`` (imports llama_index)
- ``engine``   LlamaIndex query engine and ``query_engine()`` (imports llama_index)
- ``cli``      ``netdocs search`` / ``netdocs ask``
"""
