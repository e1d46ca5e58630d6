"""Settings: one place, environment variables with the NETDOCS_ prefix (or a .env file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "netdocs"


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
    llm_timeout: float = 60.0
    llm_max_attempts: int = 3
    llm_max_output_tokens: int = 1024
    answer_top_k: int = 5
    # Below this best cosine, with no chunk matching every query word: "low confidence".
    fallback_min_cosine: float = 0.45

    # bf16: the runtime of the local model. "auto": OpenVINO in bf16 when the CPU has AMX
    # or AVX512-BF16 and openvino imports, else onnxruntime (faster in fp32 here).
    local_backend: Literal["auto", "openvino", "onnxruntime"] = "auto"
    openvino_batch_size: int = Field(default=32, ge=1)  # texts per OpenVINO call (ingest)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
