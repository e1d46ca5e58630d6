"""A cross-encoder reranker from a folder the user provides (``NETDOCS_RERANK_MODEL_DIR``):
``model.onnx`` (inputs ``input_ids``, ``attention_mask`` and optionally ``token_type_ids``;
first output = relevance logits, shape (n,) or (n, 1), or (n, 2) whose last column is
"relevant") and ``tokenizer.json`` (a Hugging Face tokenizer that encodes pairs).

Nothing is downloaded; the session is built on first use."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from netdocs.errors import ConfigError
from netdocs.query.rerank.base import RerankError
from netdocs.query.results import Hit

MAX_LENGTH = 512
BATCH = 16


def model_files(model_dir: Path | None) -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of ``model_dir``; ConfigError naming what is missing."""
    if model_dir is None:
        raise ConfigError("NETDOCS_RERANK=onnx needs NETDOCS_RERANK_MODEL_DIR")
    model, tok = Path(model_dir) / "model.onnx", Path(model_dir) / "tokenizer.json"
    for path in (model, tok):
        if not path.is_file():
            raise ConfigError(f"NETDOCS_RERANK_MODEL_DIR: {path} not found")
    return model, tok


def model_version(model_dir: Path | None) -> str:
    """Identifies the model files for cache keys: path, sizes and modification times."""
    model, tok = model_files(model_dir)
    stats = [(p.stat().st_size, p.stat().st_mtime_ns) for p in (model, tok)]
    return f"{Path(model_dir or '').resolve()}:{stats}"


class OnnxCrossEncoder:
    """Scores (question, passage) pairs with an ONNX cross-encoder on onnxruntime's CPU."""

    def __init__(self, model_dir: Path | None, *, passage_chars: int = 2000) -> None:
        self.model_path, self.tokenizer_path = model_files(model_dir)
        self.passage_chars = passage_chars
        self.name = f"onnx {Path(model_dir or '').name}"
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                try:
                    tok = Tokenizer.from_file(str(self.tokenizer_path))
                    tok.enable_truncation(MAX_LENGTH)
                    tok.enable_padding()
                    self._session = ort.InferenceSession(
                        str(self.model_path), providers=["CPUExecutionProvider"]
                    )
                except Exception as e:
                    raise RerankError(f"cannot load the cross-encoder: {e}") from e
                self._tokenizer = tok
            return self._session, self._tokenizer

    def rerank(self, question: str, candidates: Sequence[Hit]) -> dict[str, float]:
        """One logit per candidate, by chunk id."""
        if not candidates:
            return {}
        session, tok = self._load()
        names = {i.name for i in session.get_inputs()}
        scores: list[float] = []
        for start in range(0, len(candidates), BATCH):
            batch = candidates[start : start + BATCH]
            pairs = [(question, h.text[: self.passage_chars]) for h in batch]
            enc = tok.encode_batch(pairs)
            feed = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            }
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
            logits = np.asarray(session.run(None, feed)[0], dtype=np.float64)
            if logits.ndim == 2:
                logits = logits[:, -1]
            if logits.shape != (len(batch),):
                raise RerankError(f"cross-encoder output has shape {logits.shape}")
            scores.extend(float(x) for x in logits)
        return {h.chunk_id: s for h, s in zip(candidates, scores, strict=True)}
