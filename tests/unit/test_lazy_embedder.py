"""netdocs/embedding/lazy.py: the local model's id and width are known without importing its
runtimes, they are the ones the real embedder has, and the real one is built on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netdocs.config import Settings
from netdocs.embedding import lazy
from netdocs.embedding.hashing import HashingEmbedder

from ..conftest import REPO

RUNTIMES = ("onnx", "onnxruntime", "openvino", "tokenizers", "netdocs.embedding.local")


def test_identities_restate_the_model_table() -> None:
    from netdocs.embedding import onnx_cache
    from netdocs.embedding.local import model_id_for
    from netdocs.embedding.models import LOCAL_MODELS

    assert set(lazy.IDENTITIES) == set(LOCAL_MODELS)
    for name, spec in LOCAL_MODELS.items():
        ident = lazy.IDENTITIES[name]
        assert (ident.dim, ident.max_tokens, ident.builder_version) == (
            spec.dim,
            spec.max_tokens,
            spec.builder_version,
        )
        precisions = ("fp32", "int8") if spec.fusable else ("fp32",)
        for p in precisions:
            assert lazy.local_model_id(p, name) == model_id_for(p, name)  # type: ignore[arg-type]
    assert lazy.ort_version() == onnx_cache.ORT_VERSION


def test_id_and_width_import_no_runtime(tmp_path: object) -> None:
    """What a no-change run asks of the configured local model costs no runtime import."""
    code = f"""
import json, sys
from netdocs.config import Settings
from netdocs.embedding.factory import get_embedder
for model in ("all-MiniLM-L6-v2",):
    e = get_embedder(Settings(embedding_provider="local", local_model=model))
    seen = (e.model_id, e.dim, e.max_tokens, e.normalized, e.breaker, e.available())
print(json.dumps({{"seen": seen, "imported": [m for m in {RUNTIMES!r} if m in sys.modules]}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["imported"] == []
    assert got["seen"] == ["local/all-MiniLM-L6-v2@onnx-fp32-v1", 384, 256, True, None, True]


def test_built_on_first_use_and_checked_against_the_announcement() -> None:
    builds: list[int] = []

    def build() -> HashingEmbedder:
        builds.append(1)
        return HashingEmbedder(dim=384)

    e = lazy.LazyEmbedder("fp32", "all-MiniLM-L6-v2", build)
    assert builds == [] and "not loaded" in repr(e)
    with pytest.raises(RuntimeError, match="built hashing/bow@384 .*announced local/"):
        e.embed(["BGP"])  # a build that is not the announced model is refused


def test_the_factory_embedder_embeds_with_the_real_model(tmp_path: object) -> None:
    from netdocs.embedding.factory import get_embedder
    from netdocs.embedding.local import LocalEmbedder

    e = get_embedder(
        Settings(embedding_provider="local", local_backend="onnxruntime", home=tmp_path)
    )
    assert e.embed(["BGP route reflector"]).shape == (1, 384)
    real = e.real()  # type: ignore[attr-defined]
    assert type(real) is LocalEmbedder and real.model_id == e.model_id
    assert e.count_tokens(["BGP"]) == real.count_tokens(["BGP"])
    assert e.batch_size == real.batch_size  # other attributes are the real embedder's
