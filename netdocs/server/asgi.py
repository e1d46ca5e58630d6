"""The application as uvicorn's worker processes build it (``netdocs serve --workers N``).

Each worker process imports this module and calls :func:`app_from_env`: its own runtime
(database pool, question model, concurrency slots) from the environment the parent set up
(``netdocs serve`` puts ``--policy`` in NETDOCS_POLICY and has already applied the schema).
"""

from __future__ import annotations

from fastapi import FastAPI

from netdocs.config import get_settings
from netdocs.db import database_url
from netdocs.server.app import create_app
from netdocs.server.runtime import Runtime


def app_from_env() -> FastAPI:
    """A runtime and its application for this worker process (closed at shutdown)."""
    settings = get_settings()
    rt = Runtime(settings, database_url(settings))
    try:
        rt.embedder  # load the question model before the first request  # noqa: B018
    except BaseException:
        rt.close()
        raise
    return create_app(rt, owns_runtime=True)
