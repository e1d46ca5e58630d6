"""The local sentence-embedding models netdocs can build and run (``NETDOCS_LOCAL_MODEL``).

Each entry says where the model's Hugging Face folder comes from, how its ONNX graph is
built from the safetensors, and what its inputs, width and token limit are. The model name
is part of the model id, so switching models is a model change (``ingest --reembed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnx

from netdocs.embedding import mpnet_files, onnx_bert, onnx_mpnet

ModelName = Literal["all-MiniLM-L6-v2", "all-mpnet-base-v2"]
DEFAULT_MODEL: ModelName = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class LocalModel:
    """A local model: its files, graph builder and shape.

    ``fusable``: onnxruntime's BERT fusions (and so the int8 variant) apply to its graph.
    ``folder`` maps the models cache directory to the model's HF folder.
    """

    name: ModelName
    dim: int
    max_tokens: int  # max_seq_length of the sentence-transformers model
    inputs: tuple[str, ...]
    pad_id: int
    builder_version: int
    fusable: bool
    build: Callable[[Path, Path], onnx.ModelProto]  # (weights, config.json) -> graph
    folder: Callable[[Path], Path]


def _minilm_folder(cache_dir: Path) -> Path:
    from netdocs.embedding import onnx_cache

    return onnx_cache.model_dir()


MINILM = LocalModel(
    name="all-MiniLM-L6-v2",
    dim=384,
    max_tokens=256,
    inputs=onnx_bert.INPUTS,
    pad_id=0,  # [PAD]
    builder_version=onnx_bert.BUILDER_VERSION,
    fusable=True,
    build=onnx_bert.build_model,
    folder=_minilm_folder,
)
MPNET = LocalModel(
    name="all-mpnet-base-v2",
    dim=768,
    max_tokens=384,
    inputs=onnx_mpnet.INPUTS,
    pad_id=1,  # <pad>
    builder_version=onnx_mpnet.BUILDER_VERSION,
    fusable=False,
    build=onnx_mpnet.build_model,
    folder=mpnet_files.model_dir,
)
LOCAL_MODELS: dict[str, LocalModel] = {m.name: m for m in (MINILM, MPNET)}


def get_model(name: str) -> LocalModel:
    """The local model called ``name``; ValueError listing the known ones otherwise."""
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        known = ", ".join(LOCAL_MODELS)
        raise ValueError(f"unknown local model {name!r} (known: {known})") from None
