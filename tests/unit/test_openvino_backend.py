"""The OpenVINO backend: parity with onnxruntime on the same graph (cosine >= the tolerance
that lets bf16 keep the fp32 model id), and how ``NETDOCS_LOCAL_BACKEND=auto`` chooses and
falls back (no openvino package, no bf16 units in the CPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from netdocs.chunking import chunk_document
from netdocs.config import Settings
from netdocs.embedding import backend
from netdocs.embedding.backend import BF16_FLAGS, choose_backend, read_cpu_flags
from netdocs.embedding.factory import get_embedder
from netdocs.embedding.local import LocalEmbedder, _usable_cpus
from netdocs.errors import ConfigError
from tests.conftest import REPO

pytest.importorskip("openvino")
from netdocs.embedding.openvino_backend import BF16_MIN_COSINE, OpenVINOEmbedder  # noqa: E402

SAMPLE = REPO / "examples" / "sample-docs"
BF16_CPU = bool((read_cpu_flags() or frozenset()) & BF16_FLAGS)


def _sample_texts(n: int = 48) -> list[str]:
    """Chunks of the sample documents as the ingest embeds them, plus short questions."""
    files = sorted(SAMPLE.rglob("*.md"))
    assert len(files) > 20, f"sample docs missing at {SAMPLE}"
    count = LocalEmbedder(cache_dir=Path("/nonexistent")).count_tokens
    texts: list[str] = []
    for path in files[::3]:
        chunks = chunk_document(path.name, path.read_text(encoding="utf-8"), count, 200)
        texts += [c.embed_text for c in chunks[:4]]
    return [*texts[:n], "BGP", "How do I renew a DHCP lease?", "vlan trunk native"]


TEXTS = _sample_texts()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def fp32(cache_dir: Path) -> npt.NDArray[np.float32]:
    """onnxruntime on the same plain graph OpenVINO reads."""
    return LocalEmbedder(cache_dir=cache_dir, fused=False, batch_size=4).embed(TEXTS)


@pytest.fixture(scope="module")
def ov(cache_dir: Path) -> OpenVINOEmbedder:
    return OpenVINOEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def bf16(ov: OpenVINOEmbedder) -> npt.NDArray[np.float32]:
    return ov.embed(TEXTS)


def _cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_parity_with_onnxruntime(
    ov: OpenVINOEmbedder, bf16: npt.NDArray[np.float32], fp32: npt.NDArray[np.float32]
) -> None:
    assert ov.model_id == LocalEmbedder(cache_dir=Path("/x")).model_id  # shares fp32's id
    assert bf16.shape == (len(TEXTS), 384) and bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-4)
    cos = _cosines(bf16, fp32)
    assert cos.min() >= BF16_MIN_COSINE, cos
    if BF16_CPU:  # the precision hint took effect: bf16 is close, not identical
        assert cos.min() < 0.999999, "expected bf16 arithmetic, got fp32-identical vectors"


def test_f32_precision_matches_exactly(cache_dir: Path, fp32: npt.NDArray[np.float32]) -> None:
    out = OpenVINOEmbedder(cache_dir=cache_dir, precision="f32").embed(TEXTS[:12])
    assert _cosines(out, fp32[:12]).min() >= 0.999999


def test_order_streams_and_batch_size_keep_vectors(
    cache_dir: Path, bf16: npt.NDArray[np.float32]
) -> None:
    two = OpenVINOEmbedder(cache_dir=cache_dir, streams=2, threads=2)
    np.testing.assert_allclose(two.embed(TEXTS[::-1])[::-1], bf16, atol=1e-6)
    single = OpenVINOEmbedder(cache_dir=cache_dir, batch_size=1).embed([TEXTS[5]])
    assert _cosines(single, bf16[5:6]).min() >= BF16_MIN_COSINE
    assert OpenVINOEmbedder(cache_dir=cache_dir).embed([]).shape == (0, 384)


def test_compiled_model_cached(cache_dir: Path, ov: OpenVINOEmbedder) -> None:
    ov.load()
    assert ov.model_path is not None and ov.model_path.name.endswith("-fp32.onnx")  # plain graph
    blobs = {p: p.stat().st_mtime_ns for p in (cache_dir / "openvino").iterdir()}
    assert blobs, "no compiled model in the cache"
    OpenVINOEmbedder(cache_dir=cache_dir).load()
    assert {p: p.stat().st_mtime_ns for p in (cache_dir / "openvino").iterdir()} == blobs


def test_read_cpu_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert read_cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert read_cpu_flags(tmp_path / "missing") is None
    info.write_text("Features\t: fp asimd\n")  # e.g. ARM: no x86 flags line
    assert read_cpu_flags(info) is None


@pytest.mark.parametrize("flag", sorted(BF16_FLAGS))
def test_auto_picks_openvino_bf16_on_bf16_cpus(flag: str) -> None:
    choice = choose_backend("auto", "fp32", cpu_flags=lambda: frozenset({"avx2", flag}))
    assert (choice.backend, choice.precision) == ("openvino", "bf16")


def test_auto_without_bf16_uses_onnxruntime() -> None:
    no_bf16 = frozenset({"avx2", "avx512f", "amx_int8"})
    choice = choose_backend("auto", "fp32", cpu_flags=lambda: no_bf16, has_openvino=lambda: True)
    assert choice.backend == "onnxruntime" and choice.precision is None
    explicit = choose_backend("openvino", "fp32", cpu_flags=lambda: no_bf16)
    assert (explicit.backend, explicit.precision) == ("openvino", "f32")


def test_auto_without_openvino_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    bf16_cpu = frozenset(BF16_FLAGS)
    choice = choose_backend("auto", "fp32", cpu_flags=lambda: bf16_cpu)
    assert choice.backend == "onnxruntime"
    with pytest.raises(ConfigError, match="NETDOCS_LOCAL_BACKEND=openvino.*openvino package"):
        choose_backend("openvino", "fp32", cpu_flags=lambda: bf16_cpu)
    # the whole factory path: the local model still embeds, on onnxruntime
    monkeypatch.setattr(backend, "read_cpu_flags", lambda: bf16_cpu)
    settings = Settings(embedding_provider="local", local_backend="auto", home=tmp_path)
    embedder = get_embedder(settings)
    assert embedder.embed(["BGP"]).shape == (1, 384)
    assert type(embedder.real()) is LocalEmbedder  # type: ignore[attr-defined]


def test_unreadable_cpuinfo_asks_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_openvino_reports_bf16", lambda: True)
    assert choose_backend("auto", "fp32", cpu_flags=lambda: None).backend == "openvino"
    monkeypatch.setattr(backend, "_openvino_reports_bf16", lambda: False)
    assert choose_backend("auto", "fp32", cpu_flags=lambda: None).backend == "onnxruntime"


def test_int8_stays_on_onnxruntime() -> None:
    bf16_cpu = frozenset(BF16_FLAGS)
    assert choose_backend("auto", "int8", cpu_flags=lambda: bf16_cpu).backend == "onnxruntime"
    with pytest.raises(ConfigError, match="int8"):
        choose_backend("openvino", "int8", cpu_flags=lambda: bf16_cpu)
    assert choose_backend("onnxruntime", "fp32").backend == "onnxruntime"


def test_factory_tunes_per_purpose(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backend, "read_cpu_flags", lambda: frozenset(BF16_FLAGS))
    settings = Settings(embedding_provider="local", local_backend="auto", home=tmp_path)
    bulk, query = (get_embedder(settings, purpose=p).real() for p in ("bulk", "query"))  # type: ignore[attr-defined]
    assert isinstance(bulk, OpenVINOEmbedder) and isinstance(query, OpenVINOEmbedder)
    assert bulk.inference_precision == query.inference_precision == "bf16"
    assert (bulk.batch_size, query.batch_size) == (settings.openvino_batch_size, 1)
    # bulk: one single-threaded stream per CPU; query: one stream on every CPU but the one
    # the full-text query runs on meanwhile (netdocs.query.pending)
    cpus = _usable_cpus()
    assert (bulk.streams, bulk.threads) == (cpus, cpus)
    assert (query.streams, query.threads) == (1, max(1, cpus - 1))
    assert bulk.cache_dir == tmp_path / "models"
    ort = get_embedder(
        Settings(embedding_provider="local", local_backend="onnxruntime", home=tmp_path)
    ).real()  # type: ignore[attr-defined]
    assert type(ort) is LocalEmbedder and ort.model_id == bulk.model_id
    ort_query = get_embedder(
        Settings(embedding_provider="local", local_backend="onnxruntime", home=tmp_path),
        purpose="query",
    ).real()  # type: ignore[attr-defined]
    assert (ort_query.workers, ort_query.threads) == (1, max(1, cpus - 1))
