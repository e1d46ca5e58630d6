"""The Embedder protocol every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors.

    ``model_id`` identifies the model *and* everything that changes its output (weights,
    precision, pooling, max length); it is part of the embedding-cache key, so two embedders
    with the same ``model_id`` must give the same vectors for the same text.
    """

    model_id: str
    dim: int
    max_tokens: int  # the longest input (in the model's own tokens) embedded without loss
    normalized: bool  # True when vectors are L2-normalised

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The number of model tokens (incl. special tokens) each text becomes."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns a float32 array of shape (len(texts), dim)."""
        ...
