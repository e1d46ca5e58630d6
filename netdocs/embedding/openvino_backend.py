"""The local model (all-MiniLM-L6-v2 or all-mpnet-base-v2) on OpenVINO's CPU plugin: bf16
on CPUs with AMX or AVX512-BF16.

It compiles the *plain* fp32 ONNX graph netdocs builds (:mod:`netdocs.embedding.onnx_cache`
variant ``fp32``; OpenVINO cannot read the onnxruntime-quantised graph, and the fused one
runs slower). Compiled models are cached by OpenVINO under ``cache_dir/openvino``, so a new
process loads in a fraction of the compile time. Tokenizer, length-sorted batching and the
model id are those of :class:`~netdocs.embedding.local.LocalEmbedder`: bf16 vectors stay
within cosine :data:`BF16_MIN_COSINE` of fp32 (tested), so they share its embedding cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from netdocs.embedding import onnx_bert, onnx_cache
from netdocs.embedding.backend import InferencePrecision
from netdocs.embedding.base import Vectors
from netdocs.embedding.local import LocalEmbedder, _usable_cpus, length_batches, pad_batch

log = logging.getLogger(__name__)

#: The smallest cosine between a bf16 vector and the fp32 one of the same text that keeps
#: the fp32 model id (measured: 0.99997 on corpus chunks and on the sample documents).
BF16_MIN_COSINE = 0.9999


class OpenVINOEmbedder(LocalEmbedder):
    """The local model on OpenVINO (same vectors, within :data:`BF16_MIN_COSINE`).

    Args:
        precision: OpenVINO's ``INFERENCE_PRECISION_HINT``: ``"bf16"`` or ``"f32"``.
        model: the local model's name (see :class:`LocalEmbedder`).
        batch_size: texts per inference (length-sorted first).
        cache_dir: built ``.onnx`` files and OpenVINO's compiled-model cache.
        streams: inference streams; with more than one, batches run concurrently through
            an ``AsyncInferQueue`` (one request per stream).
        threads: CPU threads for all streams together; 0 = every usable CPU.
    """

    backend = "openvino"

    def __init__(
        self,
        *,
        precision: InferencePrecision = "bf16",
        model: str = "all-MiniLM-L6-v2",
        batch_size: int = 32,
        cache_dir: Path | None = None,
        streams: int = 1,
        threads: int = 0,
    ) -> None:
        if precision not in ("bf16", "f32"):
            raise ValueError(f"precision must be 'bf16' or 'f32', not {precision!r}")
        if streams < 1:
            raise ValueError("streams must be >= 1")
        super().__init__(
            model=model, precision="fp32", batch_size=batch_size, cache_dir=cache_dir, fused=False
        )
        self.inference_precision: InferencePrecision = precision
        self.streams = streams
        self.threads = threads or _usable_cpus()
        self.workers = 1
        self._compiled: Any = None  # openvino.CompiledModel
        self._request: Any = None  # its InferRequest for one stream
        self._run_lock = threading.Lock()  # one embed() at a time per instance

    def __repr__(self) -> str:
        return (
            f"OpenVINOEmbedder(model_id={self.model_id!r}, precision="
            f"{self.inference_precision!r}, batch_size={self.batch_size}, "
            f"streams={self.streams}, threads={self.threads})"
        )

    def _compile(self, path: Path) -> Any:
        import openvino as ov

        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": self.inference_precision,
            "CACHE_DIR": str(self.cache_dir / "openvino"),
            "NUM_STREAMS": self.streams,
            "INFERENCE_NUM_THREADS": self.threads,
        }
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        inputs = {name for port in compiled.inputs for name in port.get_names()}
        outputs = [name for port in compiled.outputs for name in port.get_names()]
        if not set(self.spec.inputs) <= inputs or onnx_bert.OUTPUT not in outputs:
            raise ValueError(f"unexpected model signature in {path}: {inputs} -> {outputs}")
        return compiled

    def _plain_graph(self, rebuild: bool = False) -> Path:
        """The cached plain fp32 ``.onnx`` (not onnxruntime-fused), built if missing."""
        return onnx_cache.ensure_variant(
            self.cache_dir, "fp32", False, rebuild=rebuild, model=self.spec
        )

    def _get_compiled(self) -> Any:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    path = self._plain_graph()
                    try:
                        compiled = self._compile(path)
                    except Exception as exc:  # corrupt or foreign cache file: build afresh
                        log.warning("rebuilding unusable cached model %s (%s)", path, exc)
                        path = self._plain_graph(rebuild=True)
                        compiled = self._compile(path)
                    self.model_path = path
                    self._request = compiled.create_infer_request()
                    self._compiled = compiled
        return self._compiled

    def load(self) -> None:
        """Load tokenizer and compile the model now (otherwise done on first use)."""
        self._get_tokenizers()
        self._get_compiled()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` (each truncated to ``max_tokens``) -> float32 ``(len, dim)``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        embed_tok, _ = self._get_tokenizers()
        compiled = self._get_compiled()
        encodings = embed_tok.encode_batch(list(texts))
        lengths, batches = length_batches(encodings, self.batch_size)
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        with self._run_lock:
            if self.streams == 1 or len(batches) == 1:
                for idx in batches:
                    result = self._request.infer(pad_batch(encodings, lengths, idx, self.spec))
                    out[idx] = result[onnx_bert.OUTPUT]
            else:
                self._run_async(compiled, encodings, lengths, batches, out)
        return out

    def _run_async(
        self,
        compiled: Any,
        encodings: Sequence[Any],
        lengths: np.ndarray,
        batches: list[np.ndarray],
        out: Vectors,
    ) -> None:
        """Run the batches on all streams at once, the longest first."""
        import openvino as ov

        queue = ov.AsyncInferQueue(compiled, self.streams)
        errors: list[BaseException] = []

        def done(request: Any, idx: np.ndarray) -> None:
            try:
                out[idx] = request.get_tensor(onnx_bert.OUTPUT).data
            except BaseException as exc:  # surfaced after wait_all()
                errors.append(exc)

        queue.set_callback(done)
        for idx in reversed(batches):
            queue.start_async(pad_batch(encodings, lengths, idx, self.spec), idx)
        queue.wait_all()
        if errors:
            raise errors[0]
