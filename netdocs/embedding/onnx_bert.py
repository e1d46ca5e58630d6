"""Build an fp32 ONNX graph of a BERT sentence encoder straight from safetensors weights.

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64,
``[batch, seq]``) and returns ``sentence_embedding`` (float32, ``[batch, hidden]``): the
encoder's last hidden state, mean-pooled over the attention mask and L2-normalised -- what
sentence-transformers computes for all-MiniLM-L6-v2. No torch or transformers involved.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

#: Bump whenever the graph this module builds changes (it is part of the cache key).
BUILDER_VERSION = 1
OPSET = 17  # LayerNormalization is a standard op from opset 17
OUTPUT = "sentence_embedding"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class BertConfig:
    """The few HF ``config.json`` fields the graph needs."""

    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float
    max_positions: int

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        """Read a Hugging Face BERT ``config.json`` (absolute positions, erf GELU only)."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {raw.get('hidden_act')!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            hidden_size=int(raw["hidden_size"]),
            num_heads=int(raw["num_attention_heads"]),
            num_layers=int(raw["num_hidden_layers"]),
            intermediate_size=int(raw["intermediate_size"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
            max_positions=int(raw["max_position_embeddings"]),
        )


class _GraphBuilder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, weights: dict[str, npt.NDArray[np.generic]]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: npt.ArrayLike, dtype: type = np.float32) -> str:
        """Add an initializer; returns its name."""
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, key: str, transpose: bool = False) -> str:
        """Add a checkpoint tensor (optionally transposed for ``x @ W``) as an initializer."""
        arr = self.weights[key].astype(np.float32)
        return self.const(key, np.ascontiguousarray(arr.T) if transpose else arr)

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """Add a single-output node; returns its output name."""
        self._n += 1
        out = f"{name}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, prefix: str) -> str:
        """``x @ W.T + b`` for an HF ``nn.Linear`` named ``prefix``."""
        mm = self.op("MatMul", [x, self.weight(f"{prefix}.weight", transpose=True)], prefix)
        return self.op("Add", [mm, self.weight(f"{prefix}.bias")], prefix + ".add")

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        """LayerNormalization over the last axis."""
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")],
            prefix,
            axis=-1,
            epsilon=eps,
        )


def gelu(g: _GraphBuilder, x: str, p: str) -> str:
    """Exact GELU: ``0.5 * x * (1 + erf(x / sqrt(2)))`` (constants named after ``p``)."""
    div = g.op("Div", [x, g.const(f"{p}.sqrt2", math.sqrt(2.0))], f"{p}.gelu.div")
    erf = g.op("Erf", [div], f"{p}.gelu.erf")
    one_plus = g.op("Add", [erf, g.const(f"{p}.one", 1.0)], f"{p}.gelu.add")
    out = g.op("Mul", [x, one_plus], f"{p}.gelu.mul")
    return g.op("Mul", [out, g.const(f"{p}.half", 0.5)], f"{p}.gelu.half")


def _encoder_layer(g: _GraphBuilder, x: str, mask_bias: str, i: int, cfg: BertConfig) -> str:
    """One transformer block (post-LN, as in BERT)."""
    p = f"encoder.layer.{i}"
    head_dim = cfg.hidden_size // cfg.num_heads
    heads_shape = g.const(f"{p}.heads_shape", [0, 0, cfg.num_heads, head_dim], np.int64)
    merged_shape = g.const(f"{p}.merged_shape", [0, 0, cfg.hidden_size], np.int64)

    def split_heads(t: str, perm: list[int]) -> str:
        r = g.op("Reshape", [t, heads_shape], f"{t}.reshape")
        return g.op("Transpose", [r], f"{t}.transpose", perm=perm)

    q = split_heads(g.linear(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
    k = split_heads(g.linear(x, f"{p}.attention.self.key"), [0, 2, 3, 1])
    v = split_heads(g.linear(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
    scores = g.op("MatMul", [q, k], f"{p}.scores")
    scale = g.const(f"{p}.scale", math.sqrt(head_dim))
    scores = g.op("Div", [scores, scale], f"{p}.scaled")
    scores = g.op("Add", [scores, mask_bias], f"{p}.masked")
    probs = g.op("Softmax", [scores], f"{p}.probs", axis=-1)
    ctx = g.op("MatMul", [probs, v], f"{p}.context")
    ctx = g.op("Transpose", [ctx], f"{p}.context.transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, merged_shape], f"{p}.context.reshape")

    attn = g.linear(ctx, f"{p}.attention.output.dense")
    attn = g.op("Add", [attn, x], f"{p}.attention.residual")
    attn = g.layer_norm(attn, f"{p}.attention.output.LayerNorm", cfg.layer_norm_eps)

    inter = gelu(g, g.linear(attn, f"{p}.intermediate.dense"), p)
    out = g.linear(inter, f"{p}.output.dense")
    out = g.op("Add", [out, attn], f"{p}.output.residual")
    return g.layer_norm(out, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def mean_pool_normalize(g: _GraphBuilder, x: str, mask: str) -> None:
    """Mean pooling of ``x`` over real tokens, then L2 normalisation, into :data:`OUTPUT`
    (eps as torch's ``F.normalize``)."""
    mask_f = g.op("Cast", [mask], "pool.mask_float", to=TensorProto.FLOAT)
    mask_3d = g.op("Unsqueeze", [mask_f, g.const("pool.axes", [-1], np.int64)], "pool.mask")
    summed = g.op(
        "ReduceSum",
        [g.op("Mul", [x, mask_3d], "pool.masked"), g.const("pool.seq_axis", [1], np.int64)],
        "pool.sum",
        keepdims=0,
    )
    count = g.op(
        "ReduceSum", [mask_3d, g.const("pool.seq_axis2", [1], np.int64)], "pool.count", keepdims=0
    )
    count = g.op("Max", [count, g.const("pool.min_count", 1e-9)], "pool.count_clip")
    mean = g.op("Div", [summed, count], "pool.mean")
    norm = g.op("ReduceL2", [mean], "norm.l2", axes=[-1], keepdims=1)  # axes attr in opset 17
    norm = g.op("Max", [norm, g.const("norm.eps", 1e-12)], "norm.clip")
    g.nodes.append(helper.make_node("Div", [mean, norm], [OUTPUT], name=OUTPUT))


def build_model(weights_path: Path, config_path: Path) -> onnx.ModelProto:
    """Build the sentence-embedding graph (encoder + mean pooling + L2 norm)."""
    cfg = BertConfig.from_json(config_path)
    weights = load_file(str(weights_path))
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    g = _GraphBuilder(weights)

    ids, mask, types = INPUTS
    word = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), ids], "emb.word")
    tok = g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), types], "emb.type")
    # position ids = arange(max_positions)[None, :seq], sliced as in the HF export
    seq = g.op("Shape", [ids], "emb.shape")
    seq = g.op("Gather", [seq, g.const("emb.one_i", 1, np.int64)], "emb.seq", axis=0)
    seq = g.op("Unsqueeze", [seq, g.const("emb.axis0", [0], np.int64)], "emb.seq_1d")
    table = g.const("emb.position_ids", np.arange(cfg.max_positions)[None, :], np.int64)
    zero, one = g.const("emb.zero", [0], np.int64), g.const("emb.one", [1], np.int64)
    positions = g.op("Slice", [table, zero, seq, one, one], "emb.positions")
    pos = g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), positions], "emb.pos")
    x = g.op("Add", [word, tok], "emb.add_type")
    x = g.op("Add", [x, pos], "emb.add_pos")
    x = g.layer_norm(x, "embeddings.LayerNorm", cfg.layer_norm_eps)

    # additive attention bias: 0 for real tokens, -10000 for padding, shape [b, 1, 1, s]
    # (node sequence as in the HF export, so onnxruntime's attention fusion recognises it)
    mask_4d = g.op("Unsqueeze", [mask, g.const("mask.axis1", [1], np.int64)], "mask.3d")
    mask_4d = g.op("Unsqueeze", [mask_4d, g.const("mask.axis2", [2], np.int64)], "mask.4d")
    mask_4d = g.op("Cast", [mask_4d], "mask.4d_float", to=TensorProto.FLOAT)
    inv = g.op("Sub", [g.const("mask.one", 1.0), mask_4d], "mask.inv")
    mask_bias = g.op("Mul", [inv, g.const("mask.neg", -10000.0)], "mask.bias")

    for i in range(cfg.num_layers):
        x = _encoder_layer(g, x, mask_bias, i, cfg)

    mean_pool_normalize(g, x, mask)

    def int_input(name: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        g.nodes,
        "bert_sentence_encoder",
        [int_input(n) for n in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden_size])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="netdocs.embedding.onnx_bert",
        producer_version=str(BUILDER_VERSION),
    )
    model.ir_version = 8  # readable by any onnxruntime >= 1.10
    onnx.checker.check_model(model)
    return model
