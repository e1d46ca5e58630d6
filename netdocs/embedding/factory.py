"""Build the configured embedder (one instance per process and configuration)."""

from __future__ import annotations

import logging
import threading
from typing import Literal

from netdocs.config import Settings
from netdocs.embedding.base import Embedder
from netdocs.errors import ConfigError
from netdocs.resilience import CircuitBreaker, get_breaker

log = logging.getLogger(__name__)
_lock = threading.Lock()
Purpose = Literal["bulk", "query"]
_instances: dict[tuple[object, ...], Embedder] = {}


def _key(settings: Settings) -> tuple[object, ...]:
    return (
        settings.embedding_provider,
        settings.openai_embedding_model,
        settings.openai_base_url,
        str(settings.home),
        settings.embed_batch_size,
        settings.local_precision,
        settings.local_backend,
        settings.local_model,
        settings.openvino_batch_size,
        settings.embed_max_attempts,
        settings.embed_retry_base_delay,
    )


def _breaker(settings: Settings) -> CircuitBreaker:
    """The process-wide breaker of the OpenAI embeddings endpoint, with the current
    threshold and cool-down (applied on every lookup)."""
    from netdocs.embedding.openai_embedder import BREAKER_NAME

    return get_breaker(
        BREAKER_NAME,
        settings.openai_base_url,
        threshold=settings.provider_breaker_threshold,
        cooldown=settings.provider_breaker_cooldown_s,
    )


def _build_local(settings: Settings, purpose: Purpose) -> Embedder:
    """The local model's embedder on the backend chosen for this CPU (imports its runtime)."""
    from netdocs.embedding.backend import choose_backend
    from netdocs.embedding.local import LocalEmbedder, _usable_cpus

    model = settings.local_model
    choice = choose_backend(settings.local_backend, settings.local_precision)
    log.info("local model on %s %s (%s)", choice.backend, choice.precision or "", choice.reason)
    if choice.backend == "openvino" and choice.precision is not None:
        from netdocs.embedding.openvino_backend import OpenVINOEmbedder

        # bulk: batches of OPENVINO_BATCH_SIZE on one single-threaded stream per core
        # (throughput, and no thread barriers to stall when other work takes a core);
        # query: one question on one stream, on the cores the full-text query leaves free.
        bulk = purpose == "bulk"
        streams = _usable_cpus() if bulk else 1
        return OpenVINOEmbedder(
            precision=choice.precision,
            model=model,
            cache_dir=settings.home / "models",
            batch_size=settings.openvino_batch_size if bulk else 1,
            streams=streams,
            threads=streams if bulk else query_threads(),
        )
    return LocalEmbedder(
        model=model,
        cache_dir=settings.home / "models",
        batch_size=settings.embed_batch_size,
        precision=settings.local_precision,
        # bulk: one single-threaded worker per core (throughput); query: one run on the
        # cores the full-text query leaves free. Same vectors either way.
        workers=1 if purpose == "query" else 0,
        threads=query_threads() if purpose == "query" else 0,
    )


def query_threads() -> int:
    """Threads for embedding one question: every usable core but one, which the full-text
    query runs on meanwhile in PostgreSQL (:mod:`netdocs.query.pending`). Measured on
    2 cores, p50 per search: 36.8 ms with the question on 2 threads before the full-text
    query, 31.8 ms on 1 thread beside it, 34.0 ms on 2 threads beside it."""
    from netdocs.embedding.local import _usable_cpus

    return max(1, _usable_cpus() - 1)


def _build(settings: Settings, purpose: Purpose) -> Embedder:
    provider = settings.embedding_provider
    if provider == "local":
        from netdocs.embedding.backend import choose_backend

        model = settings.local_model
        if model != "all-MiniLM-L6-v2":
            if settings.local_precision == "int8":
                raise ConfigError(
                    f"NETDOCS_LOCAL_PRECISION=int8 is for all-MiniLM-L6-v2 only; "
                    f"NETDOCS_LOCAL_MODEL={model} runs in fp32 (bf16 on OpenVINO)"
                )
            from netdocs.embedding import mpnet_files

            mpnet_files.part_paths()  # ConfigError with the install command if missing
        if settings.local_backend == "openvino":  # forced: a backend that cannot run fails now
            choose_backend(settings.local_backend, settings.local_precision)
        from netdocs.embedding.lazy import LazyEmbedder

        # The runtime is imported and the backend chosen on first use: a run that only
        # compares the model's id with the index's (no change) imports neither.
        return LazyEmbedder(
            settings.local_precision, model, lambda: _build_local(settings, purpose)
        )
    if provider == "openai":
        if settings.openai_api_key is None:
            raise ConfigError("NETDOCS_EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY to be set")
        from netdocs.embedding.openai_embedder import OpenAIEmbedder
        from netdocs.resilience import RetryPolicy

        return OpenAIEmbedder(
            model=settings.openai_embedding_model,
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            retry=RetryPolicy(
                max_attempts=settings.embed_max_attempts,
                base_delay=settings.embed_retry_base_delay,
            ),
            breaker=_breaker(settings),
        )
    if provider == "hashing":
        from netdocs.embedding.hashing import HashingEmbedder

        return HashingEmbedder()
    raise ConfigError(f"NETDOCS_EMBEDDING_PROVIDER: unknown provider {provider!r}")


def get_embedder(settings: Settings, purpose: Purpose = "bulk") -> Embedder:
    """The embedder for ``settings``, built once per process and purpose.

    ``purpose="query"`` tunes the local model for one short text at a time (questions);
    ``"bulk"`` for many (ingestion). Both give the same vectors under the same model id.
    """
    key = (*_key(settings), purpose)
    if settings.embedding_provider == "openai":
        _breaker(settings)  # settings may have changed since the embedder was built
    with _lock:
        if key not in _instances:
            _instances[key] = _build(settings, purpose)
        return _instances[key]


def _variants(settings: Settings, model_id: str) -> list[Settings]:
    """Settings that may build ``model_id`` (same settings, another provider or variant)."""
    if model_id.startswith("local/"):
        from netdocs.embedding.lazy import IDENTITIES as LOCAL_MODELS
        from netdocs.embedding.lazy import local_model_id as model_id_for

        return [
            settings.model_copy(
                update={"embedding_provider": "local", "local_precision": p, "local_model": m}
            )
            for m in LOCAL_MODELS
            for p in ("fp32", "int8")
            if (m, p) != ("all-mpnet-base-v2", "int8") and model_id_for(p, m) == model_id
        ]
    if model_id.startswith("openai/"):
        name = model_id.rpartition("@")[0].rpartition("/")[2]
        update = {"embedding_provider": "openai", "openai_embedding_model": name}
        return [settings.model_copy(update=update)]
    return []


def embedder_for_model(
    settings: Settings, model_id: str, dim: int, purpose: Purpose = "query"
) -> Embedder:
    """An embedder giving ``model_id``'s vectors: the configured one when it is that model,
    else one built from the same settings with the provider/variant that model needs (the
    index keeps serving its recorded model while a rebuild to the configured one is pending).
    Raises ConfigError, naming both models, when no such embedder can be built here."""
    if model_id == f"hashing/bow@{dim}":
        from netdocs.embedding.hashing import HashingEmbedder

        return HashingEmbedder(dim=dim)
    reason = "this version of netdocs has no embedder of that name"
    for variant in _variants(settings, model_id):
        try:
            emb = get_embedder(variant, purpose)
        except ConfigError as e:
            reason = str(e)
            continue
        if (emb.model_id, emb.dim) == (model_id, dim):
            return emb
        reason = f"the current settings build {emb.model_id} ({emb.dim}-d) instead"
    raise ConfigError(
        f"the index was built with {model_id} ({dim}-d), which questions must be embedded "
        f"with, and no embedder for it can be built with the current settings "
        f"(NETDOCS_EMBEDDING_PROVIDER={settings.embedding_provider}): {reason}. Configure "
        "the index's model, or finish the rebuild with `netdocs ingest PATH --reembed`"
    )
