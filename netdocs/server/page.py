"""The ask page served at ``/``: one static HTML file with a little JavaScript."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=1)
def ask_page() -> str:
    """The page's HTML."""
    return files("netdocs.server").joinpath("static/ask.html").read_text(encoding="utf-8")
