"""A local embedder known by its id and width before its runtime is imported.

A no-change ingest run only compares the configured model's id and width with the index's;
importing onnx, onnxruntime, tokenizers and OpenVINO for that cost ~1 s of a cold CLI
process. :class:`LazyEmbedder` answers ``model_id``, ``dim``, ``max_tokens`` and
``normalized`` from :data:`IDENTITIES` and builds the real embedder on the first call that
needs the model (``embed``, ``count_tokens``, or any other attribute).

``IDENTITIES`` restates three numbers per model of :mod:`netdocs.embedding.models` (which
imports onnx); ``tests/unit/test_lazy_embedder.py`` checks they stay equal, and that the
ids equal :func:`netdocs.embedding.local.model_id_for`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from netdocs.embedding.base import Embedder, Vectors

#: The int8 recipe's name (part of file names and of the model id); onnx_cache uses it.
INT8_RECIPE = "int8pc-ffn32"


@dataclass(frozen=True)
class Identity:
    """What names a local model's vectors and shapes them."""

    dim: int
    max_tokens: int
    builder_version: int


IDENTITIES: dict[str, Identity] = {
    "all-MiniLM-L6-v2": Identity(dim=384, max_tokens=256, builder_version=1),
    "all-mpnet-base-v2": Identity(dim=768, max_tokens=384, builder_version=1),
}


def ort_version() -> str:
    """onnxruntime's major.minor (part of the int8 id: its quantiser made the weights)."""
    return ".".join(version("onnxruntime").split(".")[:2])


def local_model_id(precision: str, model: str) -> str:
    """The ``model_id`` of a local model variant; it changes whenever the vectors would."""
    spec = IDENTITIES[model]
    if precision == "int8":
        recipe = f"{INT8_RECIPE}-ort{ort_version()}"
        return f"local/{model}@onnx-{recipe}-v{spec.builder_version}"
    return f"local/{model}@onnx-fp32-v{spec.builder_version}"


class LazyEmbedder:
    """An :class:`~netdocs.embedding.base.Embedder` whose model is built on first use."""

    normalized = True
    breaker = None  # a local model has no provider circuit (looked up on every run)

    def __init__(self, precision: str, model: str, build: Callable[[], Embedder]) -> None:
        spec = IDENTITIES[model]
        self.model_id = local_model_id(precision, model)
        self.dim = spec.dim
        self.max_tokens = spec.max_tokens
        self._build = build
        self._real: Embedder | None = None
        self._lock = threading.Lock()

    def real(self) -> Embedder:
        """The embedder itself (built now if it was not yet)."""
        if self._real is None:
            with self._lock:
                if self._real is None:
                    built = self._build()
                    if (built.model_id, built.dim) != (self.model_id, self.dim):
                        raise RuntimeError(
                            f"built {built.model_id} ({built.dim}-d), "
                            f"announced {self.model_id} ({self.dim}-d)"
                        )
                    self._real = built
        return self._real

    def available(self) -> bool:
        """A local model is always available (no provider to be down)."""
        return True

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` with the real model."""
        return self.real().embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The real tokenizer's counts."""
        return self.real().count_tokens(texts)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not built yet / pickling probes: no build for these
            raise AttributeError(name)
        return getattr(self.real(), name)

    def __repr__(self) -> str:
        inner = repr(self._real) if self._real is not None else "not loaded"
        return f"LazyEmbedder({self.model_id!r}: {inner})"
