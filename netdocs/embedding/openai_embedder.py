"""OpenAI embeddings (``text-embedding-3-*``, ``ada-002``) behind the Embedder protocol.

Retries live in :mod:`netdocs.resilience` only: the SDK client is built with
``max_retries=0``. Tokens are counted offline with tiktoken ``cl100k_base`` from the copy
bundled with llama-index-core. Failures surface as ``EmbeddingProviderError`` whose message
never contains the API key.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from netdocs.embedding.base import Vectors
from netdocs.errors import (
    ConfigError,
    EmbeddingError,
    EmbeddingProviderError,
    EmbeddingProviderUnavailable,
)
from netdocs.resilience import (
    REFUSED_INPUT,
    CircuitBreaker,
    RetryPolicy,
    get_breaker,
    is_retryable,
    retry_call,
    short_error,
    status_of,
)

log = logging.getLogger(__name__)

NATIVE_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}  # accept ``dimensions``
MAX_INPUT_TOKENS = 8191
MAX_REQUEST_TOKENS = 250_000  # the API allows 300k tokens summed over one request's inputs
BREAKER_NAME = "openai-embeddings"


def tiktoken_cache_dir() -> Path | None:
    """llama-index-core's bundled tiktoken cache (found without importing the package)."""
    try:
        spec = importlib.util.find_spec("llama_index.core")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return path if path.is_dir() else None


@lru_cache(maxsize=1)
def _encoding() -> Any:
    """cl100k_base, loaded offline (sets TIKTOKEN_CACHE_DIR unless the caller did)."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        cache = tiktoken_cache_dir()
        if cache is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def plan_batches(
    token_counts: Sequence[int], max_items: int, max_tokens: int
) -> list[tuple[int, int]]:
    """Split inputs, in order, into ``[start, end)`` slices of at most ``max_items`` texts
    and at most ``max_tokens`` summed tokens (a single larger text gets its own slice)."""
    if max_items < 1:
        raise ValueError("max_items must be >= 1")
    batches: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for i, n in enumerate(token_counts):
        if i > start and (i - start >= max_items or tokens + n > max_tokens):
            batches.append((start, i))
            start, tokens = i, 0
        tokens += n
    if start < len(token_counts):
        batches.append((start, len(token_counts)))
    return batches


DEFAULT_HOST = "api.openai.com"


def endpoint_suffix(base_url: str | None) -> str:
    """``""`` for OpenAI itself, else ``"+host[:port][/path]"`` naming the endpoint.

    Part of the model id, so two endpoints' vectors never share an embedding-cache entry
    or an index (a compatible server may serve a different model under the same name).
    Credentials in the URL and a trailing ``/v1`` are left out.
    """
    if not base_url:
        return ""
    parts = urlsplit(base_url if "://" in base_url else f"//{base_url}")
    host = (parts.hostname or "").lower()
    if not host or host == DEFAULT_HOST:
        return ""
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("OPENAI_BASE_URL has an invalid port") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    if path == "/v1":
        path = ""
    return f"+{netloc}{path}"


class OpenAIEmbedder:
    """Embeddings from the OpenAI API (or a compatible ``base_url``)."""

    normalized = True
    max_tokens = MAX_INPUT_TOKENS

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        batch_size: int = 256,
        dimensions: int | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        native = NATIVE_DIMS.get(model)
        if dimensions is not None:
            if model not in SHORTENABLE and native is not None:
                raise ConfigError(f"openai model {model} does not accept a dimensions setting")
            if dimensions < 1 or (native is not None and dimensions > native):
                raise ConfigError(f"openai dimensions {dimensions} out of range for {model}")
        elif native is None:
            raise ConfigError(f"unknown openai embedding model {model!r}: set dimensions")
        if not api_key:
            raise ConfigError("OPENAI_API_KEY is not set")
        if batch_size < 1:
            raise ConfigError("embedding batch size must be >= 1")
        import openai

        self.model = model
        self.dim = int(dimensions or native or 0)
        self.model_id = f"openai/{model}@{self.dim}" + endpoint_suffix(base_url)
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or get_breaker(BREAKER_NAME, base_url)
        self._dimensions = dimensions
        self._secret = api_key
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model_id={self.model_id!r})"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """cl100k_base tokens per text (the embeddings API adds no special tokens)."""
        return [len(ids) for ids in _encoding().encode_ordinary_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed in token- and size-bounded batches; float32 (n, dim) in input order."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        counts = self.count_tokens(texts)
        for i, (text, n) in enumerate(zip(texts, counts, strict=True)):
            if not text:
                raise EmbeddingError(f"text {i} is empty; the OpenAI API rejects empty input")
            if n > self.max_tokens:
                raise EmbeddingError(
                    f"text {i} has {n} tokens; {self.model_id} accepts at most {self.max_tokens}"
                )
        for start, end in plan_batches(counts, self.batch_size, MAX_REQUEST_TOKENS):
            out[start:end] = self._embed_batch(texts[start:end])
        return out

    def available(self) -> bool:
        """False while the provider's circuit is open (no request would be made)."""
        return self.breaker.available()

    def _embed_batch(self, batch: list[str]) -> Vectors:
        if not self.breaker.allow():
            raise EmbeddingProviderUnavailable(
                f"embedding provider unavailable (circuit open after "
                f"{self.breaker.snapshot().failures} failures)"
            )
        attempts = 0

        def call() -> Any:
            nonlocal attempts
            attempts += 1
            extra: dict[str, Any] = {}
            if self._dimensions is not None:
                extra["dimensions"] = self._dimensions
            return self._client.embeddings.create(model=self.model, input=batch, **extra)

        try:
            response = retry_call(
                call, self.retry, what="openai embeddings", describe=self._describe
            )
        except Exception as e:
            if status_of(e) not in REFUSED_INPUT:  # refusing one input is not an outage
                self.breaker.failure()
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise EmbeddingProviderError(f"openai embeddings: {self._describe(e)}{tries}") from e
        try:
            vectors = self._vectors(response, len(batch))
        except EmbeddingProviderError:
            self.breaker.failure()  # a provider answering garbage counts as failing
            raise
        self.breaker.success()
        return vectors

    def _vectors(self, response: Any, n: int) -> Vectors:
        """Check count, indices, dimension and finiteness; rows in input order, unit norm."""
        data = getattr(response, "data", None)
        if not isinstance(data, list) or len(data) != n:
            got = len(data) if isinstance(data, list) else "no"
            raise EmbeddingProviderError(f"openai embeddings: expected {n} vectors, got {got}")
        items = sorted(data, key=lambda d: getattr(d, "index", -1))
        if [getattr(d, "index", None) for d in items] != list(range(n)):
            raise EmbeddingProviderError("openai embeddings: response indices are not 0..n-1")
        try:
            vecs = np.asarray([d.embedding for d in items], dtype=np.float32)
        except (AttributeError, TypeError, ValueError) as e:
            raise EmbeddingProviderError("openai embeddings: malformed vectors") from e
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            got_dim = vecs.shape[1] if vecs.ndim == 2 else "ragged"
            raise EmbeddingProviderError(
                f"openai embeddings: expected dimension {self.dim}, got {got_dim}"
            )
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if not np.all(np.isfinite(vecs)) or not np.all(norms > 0):
            raise EmbeddingProviderError("openai embeddings: non-finite or zero vectors")
        if not np.allclose(norms, 1.0, atol=1e-3):
            vecs = vecs / norms
        return vecs.astype(np.float32, copy=False)

    def _describe(self, exc: BaseException) -> str:
        """A short, secret-free description of a failure."""
        status = status_of(exc)
        if is_retryable(exc) or (status is not None and status >= 400):
            text = short_error(exc)
        else:  # undecodable JSON, the SDK's own response parsing, a body of the wrong shape
            text = f"malformed response ({type(exc).__name__}: {str(exc)[:160]})"
        return _redact(text, self._secret)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
