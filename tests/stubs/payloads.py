"""Response bodies shaped like the real OpenAI and Anthropic APIs."""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from typing import Any

import numpy as np

_ids = itertools.count(1)

# status -> (OpenAI error type, Anthropic error type, message)
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "authentication_error", "Invalid API key."),
    403: ("invalid_request_error", "permission_error", "Permission denied."),
    404: ("invalid_request_error", "not_found_error", "Not found."),
    408: ("timeout", "timeout_error", "Request timed out."),
    409: ("conflict", "conflict_error", "Conflict."),
    429: ("requests", "rate_limit_error", "Rate limit reached; retry later."),
    500: ("server_error", "api_error", "The server had an error processing your request."),
    502: ("server_error", "api_error", "Bad gateway."),
    503: ("server_error", "api_error", "The engine is currently overloaded."),
    529: ("server_error", "overloaded_error", "Overloaded"),
}

NATIVE_DIMS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536}


def words(text: str) -> int:
    """A rough token count: whitespace-separated words (at least 1)."""
    return max(1, len(text.split()))


def error_body(family: str, status: int, message: str | None = None) -> dict[str, Any]:
    """The error JSON of ``family`` ("openai" or "anthropic") for an HTTP status."""
    oa_type, an_type, default = _ERRORS.get(status, ("server_error", "api_error", "Error."))
    msg = message or default
    if family == "anthropic":
        return {"type": "error", "error": {"type": an_type, "message": msg}}
    code = "rate_limit_exceeded" if status == 429 else None
    return {"error": {"message": msg, "type": oa_type, "param": None, "code": code}}


def vector(text: str, dim: int) -> np.ndarray:
    """A deterministic unit-norm float32 vector seeded from sha256(text)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    v = np.random.default_rng(seed).standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def embeddings(body: dict[str, Any], default_dim: int, kind: str) -> dict[str, Any]:
    """An OpenAI ``/v1/embeddings`` answer (``kind`` may be wrong-count / wrong-dim)."""
    raw = body["input"]
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
    model = str(body["model"])
    dim = int(body.get("dimensions") or NATIVE_DIMS.get(model, default_dim))
    if kind == "wrong-dim":
        dim -= 1
    if kind == "wrong-count":
        texts.append(texts[-1])
    as_b64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vec = vector(text, dim)
        emb: Any = (
            base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
            if as_b64
            else [float(x) for x in vec]
        )
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(words(t) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return " ".join(parts)


def _cut(reply: str, limit: object) -> tuple[str, bool]:
    """``reply`` as a provider returns it under an output limit of ``limit`` tokens (here:
    words): cut there, and said so by the stop reason."""
    parts = reply.split()
    if isinstance(limit, int) and len(parts) > limit:
        return " ".join(parts[:limit]), True
    return reply, False


def chat_completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    """An OpenAI ``/v1/chat/completions`` answer (non-streaming)."""
    reply, cut = _cut(reply, body.get("max_completion_tokens", body.get("max_tokens")))
    prompt, completion = words(_prompt_text(body)), words(reply)
    return {
        "id": f"chatcmpl-stub{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "gpt-4o-mini"),
        "system_fingerprint": "fp_stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "length" if cut else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def anthropic_message(body: dict[str, Any], reply: str) -> dict[str, Any]:
    """An Anthropic ``/v1/messages`` answer (non-streaming)."""
    reply, cut = _cut(reply, body.get("max_tokens"))
    return {
        "id": f"msg_stub{next(_ids):020d}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-stub"),
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "max_tokens" if cut else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": words(_prompt_text(body)), "output_tokens": words(reply)},
    }
