"""A recorded-answer LLM provider for the ``+llm`` stage: a local HTTP server that replays
the responses of a recording file, keyed by the request body (no network, no key).

Recording format (JSON)::

    {"provider": "anthropic" | "openai",
     "exchanges": [{"request_sha256": "<request_key(body)>", "status": 200, "body": {...}}]}

A request with no recorded answer gets a provider-style 500 error (the product must then
fall back to its offline order); such misses are counted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MISS_BODY = {"type": "error", "error": {"type": "api_error", "message": "no recorded answer"}}


def request_key(body: Any) -> str:
    """The sha256 of a request body as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Recording:
    """The exchanges of one recording file, and how many requests were (not) answered."""

    provider: str
    answers: dict[str, tuple[int, Any]]
    hits: int = 0
    misses: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path) -> Recording:
        data = json.loads(path.read_text(encoding="utf-8"))
        provider = data.get("provider")
        if provider not in ("anthropic", "openai"):
            raise ValueError(f"{path}: field 'provider' must be anthropic or openai")
        answers = {
            e["request_sha256"]: (int(e.get("status", 200)), e["body"])
            for e in data.get("exchanges") or []
        }
        return cls(provider, answers)

    def answer(self, body: Any) -> tuple[int, Any]:
        found = self.answers.get(request_key(body))
        with self.lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found if found is not None else (500, MISS_BODY)


def _handler(recording: Recording) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                body = None
            status, answer = recording.answer(body)
            data = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@contextmanager
def serve(recording: Recording) -> Iterator[dict[str, str]]:
    """Serve ``recording`` on 127.0.0.1; yield the environment that points the provider at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recording))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    prefix = "ANTHROPIC" if recording.provider == "anthropic" else "OPENAI"
    try:
        yield {
            "NETDOCS_LLM_PROVIDER": recording.provider,
            f"{prefix}_BASE_URL": url + ("" if prefix == "ANTHROPIC" else "/v1"),
            f"{prefix}_API_KEY": "recorded-answers",
            "NETDOCS_LLM_MAX_ATTEMPTS": "1",
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
