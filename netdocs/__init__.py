"""netdocs: retrieval-augmented answering over a network team's own documentation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from netdocs.query.engine import query_engine

__all__ = ["query_engine"]


def __getattr__(name: str) -> Any:
    """Lazy exports: ``import netdocs`` stays cheap (no LlamaIndex until asked for)."""
    if name == "query_engine":
        from netdocs.query.engine import query_engine

        return query_engine
    raise AttributeError(f"module 'netdocs' has no attribute {name!r}")
