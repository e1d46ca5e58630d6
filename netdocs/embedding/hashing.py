"""A deterministic hashing embedder: no model, instant, for tests and dry runs.

Registered like a real provider (``NETDOCS_EMBEDDING_PROVIDER=hashing``). Each word is
hashed into one of ``dim`` buckets with a sign; the vector is L2-normalised. Texts sharing
words get similar vectors, which is enough to exercise retrieval plumbing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from netdocs.embedding.base import Vectors

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Bag-of-words feature hashing; ``count_tokens`` counts words plus two specials."""

    normalized = True

    def __init__(self, dim: int = 384, max_tokens: int = 256) -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_id = f"hashing/bow@{dim}"
        self.calls = 0  # texts embedded so far (tests count model work with it)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words + [CLS]/[SEP], like a word-piece model on plain prose."""
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Hash words into signed buckets and normalise."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[i]))
            if norm == 0.0:
                out[i, 0] = 1.0
            else:
                out[i] /= norm
        self.calls += len(texts)
        return out
