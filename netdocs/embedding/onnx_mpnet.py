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
from onnx import TensorProto, helper
from safetensors.numpy import load_file

from netdocs.embedding.onnx_bert import OPSET, OUTPUT, _GraphBuilder, gelu, mean_pool_normalize

#: Bump whenever the graph this module builds changes (it is part of the cache key and id).
BUILDER_VERSION = 1
INPUTS = ("input_ids", "attention_mask")
MAX_DISTANCE = 128  # of the relative position buckets (fixed in HF's MPNet)


@dataclass(frozen=True)
class MPNetConfig:
    """The few HF ``config.json`` fields the graph needs."""

    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float
    max_positions: int
    num_buckets: int
    pad_id: int

    @classmethod
    def from_json(cls, path: Path) -> MPNetConfig:
        """Read a Hugging Face MPNet ``config.json`` (erf GELU only)."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type") != "mpnet":
            raise ValueError(f"{path}: model_type {raw.get('model_type')!r} is not 'mpnet'")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: unsupported hidden_act {raw.get('hidden_act')!r}")
        return cls(
            hidden_size=int(raw["hidden_size"]),
            num_heads=int(raw["num_attention_heads"]),
            num_layers=int(raw["num_hidden_layers"]),
            intermediate_size=int(raw["intermediate_size"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
            max_positions=int(raw["max_position_embeddings"]),
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


def _encoder_layer(g: _GraphBuilder, x: str, bias: str, i: int, cfg: MPNetConfig) -> str:
    """One MPNet block (post-LN; attention scores + relative position bias + mask)."""
    p = f"encoder.layer.{i}"
    head_dim = cfg.hidden_size // cfg.num_heads
    heads_shape = g.const(f"{p}.heads_shape", [0, 0, cfg.num_heads, head_dim], np.int64)
    merged_shape = g.const(f"{p}.merged_shape", [0, 0, cfg.hidden_size], np.int64)

    def split_heads(t: str, perm: list[int]) -> str:
        r = g.op("Reshape", [t, heads_shape], f"{t}.reshape")
        return g.op("Transpose", [r], f"{t}.transpose", perm=perm)

    q = split_heads(g.linear(x, f"{p}.attention.attn.q"), [0, 2, 1, 3])
    k = split_heads(g.linear(x, f"{p}.attention.attn.k"), [0, 2, 3, 1])
    v = split_heads(g.linear(x, f"{p}.attention.attn.v"), [0, 2, 1, 3])
    scores = g.op("MatMul", [q, k], f"{p}.scores")
    scores = g.op("Div", [scores, g.const(f"{p}.scale", math.sqrt(head_dim))], f"{p}.scaled")
    scores = g.op("Add", [scores, bias], f"{p}.biased")
    probs = g.op("Softmax", [scores], f"{p}.probs", axis=-1)
    ctx = g.op("MatMul", [probs, v], f"{p}.context")
    ctx = g.op("Transpose", [ctx], f"{p}.context.transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, merged_shape], f"{p}.context.reshape")

    attn = g.linear(ctx, f"{p}.attention.attn.o")
    attn = g.op("Add", [attn, x], f"{p}.attention.residual")
    attn = g.layer_norm(attn, f"{p}.attention.LayerNorm", cfg.layer_norm_eps)

    inter = gelu(g, g.linear(attn, f"{p}.intermediate.dense"), p)
    out = g.linear(inter, f"{p}.output.dense")
    out = g.op("Add", [out, attn], f"{p}.output.residual")
    return g.layer_norm(out, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def _attention_bias(g: _GraphBuilder, ids: str, mask: str, cfg: MPNetConfig) -> str:
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
    mask_4d = g.op("Cast", [mask_4d], "mask.4d_float", to=TensorProto.FLOAT)
    inv = g.op("Sub", [g.const("mask.one", 1.0), mask_4d], "mask.inv")
    mask_bias = g.op("Mul", [inv, g.const("mask.neg", -10000.0)], "mask.bias")
    return g.op("Add", [values, mask_bias], "bias.total")


def build_model(weights_path: Path, config_path: Path) -> onnx.ModelProto:
    """Build the sentence-embedding graph (encoder + mean pooling + L2 norm)."""
    cfg = MPNetConfig.from_json(config_path)
    weights = load_file(str(weights_path))
    weights = {k.removeprefix("mpnet."): v for k, v in weights.items()}
    g = _GraphBuilder(weights)

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
        x = _encoder_layer(g, x, bias, i, cfg)
    mean_pool_normalize(g, x, mask)

    def int_input(name: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        g.nodes,
        "mpnet_sentence_encoder",
        [int_input(n) for n in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden_size])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="netdocs.embedding.onnx_mpnet",
        producer_version=str(BUILDER_VERSION),
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
