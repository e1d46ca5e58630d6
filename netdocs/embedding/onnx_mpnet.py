"""Build an fp32 ONNX graph of an MPNet sentence encoder straight from safetensors weights.

The graph takes ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``; MPNet has no
token types) and returns ``sentence_embedding`` (float32, ``[batch, hidden]``): mean pooling
over the attention mask + L2 normalisation, as sentence-transformers computes for
all-mpnet-base-v2. It differs from the BERT graph of :mod:`netdocs.embedding.onnx_bert` by
position ids that count real tokens from ``padding_idx + 1`` and by a learned *relative*
position bias (T5-style log buckets, shared by every layer) added to the attention scores.
No torch or transformers involved.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from safetensors.numpy import load_file

from netdocs.embedding.onnx_graph import (
    AttentionNames,
    EncoderConfig,
    GraphBuilder,
    encoder_layer,
    finish_model,
    mean_pool_normalize,
    padding_bias,
)

#: Bump whenever the graph this module builds changes (it is part of the cache key and id).
BUILDER_VERSION = 1
INPUTS = ("input_ids", "attention_mask")
MAX_DISTANCE = 128  # of the relative position buckets (fixed in HF's MPNet)


ATTENTION = AttentionNames(
    query="attention.attn.q",
    key="attention.attn.k",
    value="attention.attn.v",
    output="attention.attn.o",
    layer_norm="attention.LayerNorm",
    bias_node="biased",
)


@dataclass(frozen=True)
class MPNetConfig(EncoderConfig):
    """The few HF ``config.json`` fields the graph needs."""

    num_buckets: int = 32
    pad_id: int = 1

    @classmethod
    def from_json(cls, path: Path) -> MPNetConfig:
        """Read a Hugging Face MPNet ``config.json`` (erf GELU only)."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type") != "mpnet":
            raise ValueError(f"{path}: model_type {raw.get('model_type')!r} is not 'mpnet'")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: unsupported hidden_act {raw.get('hidden_act')!r}")
        return cls(
            **cls.fields(raw),
            num_buckets=int(raw.get("relative_attention_num_buckets", 32)),
            pad_id=int(raw.get("pad_token_id", 1)),
        )

    @property
    def max_tokens(self) -> int:
        """The longest input the position table covers (positions start at pad_id + 1)."""
        return self.max_positions - self.pad_id - 1


def relative_position_buckets(
    length: int, num_buckets: int = 32, max_distance: int = MAX_DISTANCE
) -> npt.NDArray[np.int64]:
    """``[length, length]`` bucket of ``key - query`` for every (query, key), as HF's
    ``MPNetEncoder.relative_position_bucket`` computes it (float32 logs, truncated)."""
    positions = np.arange(length, dtype=np.int64)
    n = -(positions[None, :] - positions[:, None])  # query - key
    half = num_buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    with np.errstate(divide="ignore"):
        scaled = np.log(n.astype(np.float32) / np.float32(max_exact))
    scaled = scaled / np.float32(math.log(max_distance / max_exact)) * np.float32(half - max_exact)
    large = max_exact + np.where(n < max_exact, 0, scaled).astype(np.int64)
    large = np.minimum(large, half - 1)
    return ret + np.where(n < max_exact, n, large)


def _attention_bias(g: GraphBuilder, ids: str, mask: str, cfg: MPNetConfig) -> str:
    """``[batch, heads, seq, seq]``: relative position bias + 0/-10000 padding mask."""
    seq = g.op("Shape", [ids], "bias.shape")
    seq = g.op("Gather", [seq, g.const("bias.one_i", 1, np.int64)], "bias.seq", axis=0)
    seq = g.op("Unsqueeze", [seq, g.const("bias.axis0", [0], np.int64)], "bias.seq_1d")
    seq2 = g.op("Concat", [seq, seq], "bias.seq_2d", axis=0)
    table = g.const(
        "bias.buckets", relative_position_buckets(cfg.max_tokens, cfg.num_buckets), np.int64
    )
    zeros, axes = g.const("bias.zeros", [0, 0], np.int64), g.const("bias.axes", [0, 1], np.int64)
    buckets = g.op("Slice", [table, zeros, seq2, axes], "bias.buckets_seq")
    weight = g.weight("encoder.relative_attention_bias.weight")  # [buckets, heads]
    values = g.op("Gather", [weight, buckets], "bias.values")  # [seq, seq, heads]
    values = g.op("Transpose", [values], "bias.per_head", perm=[2, 0, 1])
    values = g.op("Unsqueeze", [values, g.const("bias.axis_b", [0], np.int64)], "bias.4d")

    mask_4d = g.op("Unsqueeze", [mask, g.const("mask.axes", [1, 2], np.int64)], "mask.4d")
    return g.op("Add", [values, padding_bias(g, mask_4d)], "bias.total")


def build_model(weights_path: Path, config_path: Path) -> onnx.ModelProto:
    """Build the sentence-embedding graph (encoder + mean pooling + L2 norm)."""
    cfg = MPNetConfig.from_json(config_path)
    weights = load_file(str(weights_path))
    weights = {k.removeprefix("mpnet."): v for k, v in weights.items()}
    g = GraphBuilder(weights)

    ids, mask = INPUTS
    word = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), ids], "emb.word")
    # position ids as HF's create_position_ids_from_input_ids: real tokens count from
    # pad_id + 1, padding sits at pad_id (taken from the mask, so any pad token id works)
    count = g.op("CumSum", [mask, g.const("emb.axis1", 1, np.int64)], "emb.cumsum")
    count = g.op("Mul", [count, mask], "emb.real_only")
    positions = g.op("Add", [count, g.const("emb.pad_id", cfg.pad_id, np.int64)], "emb.pos_ids")
    pos = g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), positions], "emb.pos")
    x = g.op("Add", [word, pos], "emb.add_pos")
    x = g.layer_norm(x, "embeddings.LayerNorm", cfg.layer_norm_eps)

    bias = _attention_bias(g, ids, mask, cfg)
    for i in range(cfg.num_layers):
        x = encoder_layer(g, x, bias, i, cfg, ATTENTION)
    mean_pool_normalize(g, x, mask)

    return finish_model(
        g,
        "mpnet_sentence_encoder",
        INPUTS,
        cfg.hidden_size,
        "netdocs.embedding.onnx_mpnet",
        BUILDER_VERSION,
    )
