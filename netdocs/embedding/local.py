"""The default, fully offline embedder: a local model (all-MiniLM-L6-v2 by default, or
all-mpnet-base-v2) on onnxruntime (no torch).

The weights come from installed packages (:mod:`netdocs.embedding.models`); the ONNX graph
(encoder + mean pooling + L2 normalisation) is built from them once and cached (see
:mod:`netdocs.embedding.onnx_cache`). Nothing is downloaded. Construction is cheap: the
tokenizer is loaded on first use and the model on the first :meth:`LocalEmbedder.embed`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from netdocs.embedding import onnx_bert, onnx_cache
from netdocs.embedding.base import Vectors
from netdocs.embedding.models import DEFAULT_MODEL, MINILM, LocalModel, get_model
from netdocs.embedding.onnx_cache import Precision

log = logging.getLogger(__name__)

MAX_TOKENS = MINILM.max_tokens  # the default model's (sentence_bert_config max_seq_length)
DIM = MINILM.dim


def model_id_for(precision: Precision, model: str = DEFAULT_MODEL) -> str:
    """The ``model_id`` of a variant; it changes whenever the vectors would."""
    spec = get_model(model)
    version = spec.builder_version
    if precision == "int8":
        recipe = f"{onnx_cache.INT8_RECIPE}-ort{onnx_cache.ORT_VERSION}"
        return f"local/{spec.name}@onnx-{recipe}-v{version}"
    return f"local/{spec.name}@onnx-fp32-v{version}"


def pad_batch(
    encodings: Sequence[Encoding],
    lengths: npt.NDArray[np.int_],
    idx: npt.NDArray[np.int_],
    model: LocalModel = MINILM,
) -> dict[str, npt.NDArray[np.int64]]:
    """``model``'s inputs for the texts ``idx``, right-padded to the longest of them."""
    width = int(lengths[idx].max())
    ids = np.full((len(idx), width), model.pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        n = int(lengths[i])
        ids[row, :n] = encodings[i].ids
        mask[row, :n] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in model.inputs:
        feeds["token_type_ids"] = np.zeros_like(ids)
    return feeds


def length_batches(
    encodings: Sequence[Encoding], batch_size: int
) -> tuple[npt.NDArray[np.int_], list[npt.NDArray[np.int_]]]:
    """Each text's token count, and the text indices in batches of ``batch_size`` sorted by
    length (similar lengths share a batch: less padding), shortest batch first."""
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(lengths, kind="stable")
    return lengths, [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def _usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask on Linux; all CPUs elsewhere)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


class LocalEmbedder:
    """Local sentence embeddings (L2-normalised), CPU, offline: all-MiniLM-L6-v2 (384-d)
    or all-mpnet-base-v2 (768-d).

    Args:
        model: the local model's name (:data:`netdocs.embedding.models.LOCAL_MODELS`).
        precision: ``"fp32"`` (default) or ``"int8"`` (per-channel dynamic int8, faster,
            slightly different vectors -- hence a different ``model_id``).
        batch_size: texts per onnxruntime call (texts are length-sorted first).
        cache_dir: where the built ``.onnx`` files live; default ``$NETDOCS_HOME/models``.
        threads: onnxruntime intra-op threads per run (only with ``workers=1``); 0 = one
            per physical core.
        workers: batches run at once, each single-threaded; 0 = one per usable CPU.
            Independent single-threaded runs lose only the CPU other work takes from them,
            whereas one multi-threaded run stalls at every barrier when a thread is
            preempted (measured: with 15 % of the machine busy elsewhere, 2 workers lose
            11 % of their throughput, 1 run on 2 threads 20 %).
        fused: use onnxruntime's fused BERT operators for fp32 (same outputs, faster;
            MiniLM only, ignored for models without fusions).
    """

    backend = "onnxruntime"
    dim: int = DIM
    max_tokens: int = MAX_TOKENS
    normalized: bool = True

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        precision: Precision = "fp32",
        batch_size: int = 16,
        cache_dir: Path | None = None,
        threads: int = 0,
        workers: int = 0,
        fused: bool = True,
    ) -> None:
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be 'fp32' or 'int8', not {precision!r}")
        self.spec = get_model(model)
        if precision == "int8" and not self.spec.fusable:
            raise ValueError(f"{model} runs in fp32 only (no int8 variant)")
        self.dim = self.spec.dim
        self.max_tokens = self.spec.max_tokens
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if cache_dir is None:
            from netdocs.config import get_settings

            cache_dir = get_settings().home / "models"
        self.model_id = model_id_for(precision, model)
        self.precision: Precision = precision
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir)
        self.workers = workers or _usable_cpus()
        self.threads = threads if self.workers == 1 else 1
        self._pool: ThreadPoolExecutor | None = None
        self.fused = fused and self.spec.fusable
        self.model_path: Path | None = None  # set once the model is loaded
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._tokenizers: tuple[Tokenizer, Tokenizer] | None = None

    def __repr__(self) -> str:
        return (
            f"LocalEmbedder(model_id={self.model_id!r}, batch_size={self.batch_size}, "
            f"workers={self.workers})"
        )

    # -- lazy loading -------------------------------------------------------------------

    def _get_tokenizers(self) -> tuple[Tokenizer, Tokenizer]:
        """(truncating tokenizer for embedding, non-truncating one for counting)."""
        if self._tokenizers is None:
            with self._lock:
                if self._tokenizers is None:
                    path = str(self.spec.folder(self.cache_dir) / "tokenizer.json")
                    embed_tok = Tokenizer.from_file(path)
                    embed_tok.no_padding()  # padded per batch in embed()
                    embed_tok.enable_truncation(max_length=self.max_tokens)
                    count_tok = Tokenizer.from_file(path)
                    count_tok.no_padding()
                    count_tok.no_truncation()
                    self._tokenizers = (embed_tok, count_tok)
        return self._tokenizers

    def _new_session(self, path: Path) -> ort.InferenceSession:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inputs = {i.name for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        if inputs != set(self.spec.inputs) or outputs != [onnx_bert.OUTPUT]:
            raise ValueError(f"unexpected model signature in {path}: {inputs} -> {outputs}")
        return session

    def _get_session(self) -> ort.InferenceSession:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    args = (self.cache_dir, self.precision, self.fused)
                    path = onnx_cache.ensure_variant(*args, model=self.spec)
                    try:
                        session = self._new_session(path)
                    except Exception as exc:  # corrupt or foreign cache file: build afresh
                        log.warning("rebuilding unusable cached model %s (%s)", path, exc)
                        path = onnx_cache.ensure_variant(*args, rebuild=True, model=self.spec)
                        session = self._new_session(path)
                    self.model_path = path
                    self._session = session
        return self._session

    def load(self) -> None:
        """Load tokenizer and model now (otherwise done on first use)."""
        self._get_tokenizers()
        self._get_session()

    # -- Embedder protocol --------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens per text incl. the special ones, *without* truncation."""
        if not texts:
            return []
        _, count_tok = self._get_tokenizers()
        return [len(e.ids) for e in count_tok.encode_batch_fast(list(texts))]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` (each truncated to ``max_tokens``) -> float32 ``(len, dim)``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        embed_tok, _ = self._get_tokenizers()
        session = self._get_session()
        encodings = embed_tok.encode_batch(list(texts))
        lengths, batches = length_batches(encodings, self.batch_size)
        out = np.empty((len(encodings), self.dim), dtype=np.float32)

        def run(idx: npt.NDArray[np.int_]) -> None:
            feeds = pad_batch(encodings, lengths, idx, self.spec)
            out[idx] = session.run([onnx_bert.OUTPUT], feeds)[0]

        if self.workers == 1 or len(batches) == 1:
            for idx in batches:
                run(idx)
        else:  # the longest batches first, so the workers finish together
            list(self._get_pool().map(run, reversed(batches)))
        return out

    def _get_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
        return self._pool
