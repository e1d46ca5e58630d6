"""The ask page served at ``/``: one static HTML file with a little JavaScript, and the
headers that keep it to itself (its own inline script and style only, no framing)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=1)
def ask_page() -> str:
    """The page's HTML."""
    return files("netdocs.server").joinpath("static/ask.html").read_text(encoding="utf-8")


def _hashes(tag: str, html: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    digests = (base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in blocks)
    return " ".join(f"'sha256-{d}'" for d in digests)


@lru_cache(maxsize=1)
def page_headers() -> dict[str, str]:
    """Content-Security-Policy allowing exactly the page's inline script and style (by
    hash) and requests to this origin; no framing, no referrer, no MIME sniffing."""
    html = ask_page()
    csp = (
        f"default-src 'none'; script-src {_hashes('script', html)}; "
        f"style-src {_hashes('style', html)}; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }
