"""``netdocs serve``: the HTTP API (search, ask, feedback, metrics, health) and the ask page.

Modules: ``tokens`` (the API-token store), ``auth`` (request -> user and role), ``runtime``
(connection pool, shared embedder, back-pressure), ``app`` (the FastAPI routes), ``page``
(the ask page) and ``cli`` (``netdocs serve`` / ``netdocs token``).
"""
