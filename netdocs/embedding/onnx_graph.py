"""The pieces both ONNX sentence-encoder builders (:mod:`.onnx_bert`, :mod:`.onnx_mpnet`)
share: the graph builder, exact GELU, one post-LN transformer block, mean pooling + L2
normalisation, and the model wrapper. Node and initializer names are the builders' own, so
the graphs they build are unchanged by the sharing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is a standard op from opset 17
OUTPUT = "sentence_embedding"


@dataclass(frozen=True)
class EncoderConfig:
    """The few HF ``config.json`` fields every encoder graph needs."""

    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float
    max_positions: int

    @staticmethod
    def fields(raw: dict[str, Any]) -> dict[str, Any]:
        """These fields from a parsed HF ``config.json``."""
        return {
            "hidden_size": int(raw["hidden_size"]),
            "num_heads": int(raw["num_attention_heads"]),
            "num_layers": int(raw["num_hidden_layers"]),
            "intermediate_size": int(raw["intermediate_size"]),
            "layer_norm_eps": float(raw["layer_norm_eps"]),
            "max_positions": int(raw["max_position_embeddings"]),
        }


@dataclass(frozen=True)
class AttentionNames:
    """Checkpoint names of one layer's attention weights (after ``encoder.layer.N.``) and
    the name of the node adding the attention bias."""

    query: str
    key: str
    value: str
    output: str
    layer_norm: str
    bias_node: str


class GraphBuilder:
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


def gelu(g: GraphBuilder, x: str, p: str) -> str:
    """Exact GELU: ``0.5 * x * (1 + erf(x / sqrt(2)))`` (constants named after ``p``)."""
    div = g.op("Div", [x, g.const(f"{p}.sqrt2", math.sqrt(2.0))], f"{p}.gelu.div")
    erf = g.op("Erf", [div], f"{p}.gelu.erf")
    one_plus = g.op("Add", [erf, g.const(f"{p}.one", 1.0)], f"{p}.gelu.add")
    out = g.op("Mul", [x, one_plus], f"{p}.gelu.mul")
    return g.op("Mul", [out, g.const(f"{p}.half", 0.5)], f"{p}.gelu.half")


def encoder_layer(
    g: GraphBuilder, x: str, bias: str, i: int, cfg: EncoderConfig, names: AttentionNames
) -> str:
    """One transformer block (post-LN): self-attention with ``bias`` added to the scores,
    residual + LayerNorm, GELU feed-forward, residual + LayerNorm."""
    p = f"encoder.layer.{i}"
    head_dim = cfg.hidden_size // cfg.num_heads
    heads_shape = g.const(f"{p}.heads_shape", [0, 0, cfg.num_heads, head_dim], np.int64)
    merged_shape = g.const(f"{p}.merged_shape", [0, 0, cfg.hidden_size], np.int64)

    def split_heads(t: str, perm: list[int]) -> str:
        r = g.op("Reshape", [t, heads_shape], f"{t}.reshape")
        return g.op("Transpose", [r], f"{t}.transpose", perm=perm)

    q = split_heads(g.linear(x, f"{p}.{names.query}"), [0, 2, 1, 3])
    k = split_heads(g.linear(x, f"{p}.{names.key}"), [0, 2, 3, 1])
    v = split_heads(g.linear(x, f"{p}.{names.value}"), [0, 2, 1, 3])
    scores = g.op("MatMul", [q, k], f"{p}.scores")
    scores = g.op("Div", [scores, g.const(f"{p}.scale", math.sqrt(head_dim))], f"{p}.scaled")
    scores = g.op("Add", [scores, bias], f"{p}.{names.bias_node}")
    probs = g.op("Softmax", [scores], f"{p}.probs", axis=-1)
    ctx = g.op("MatMul", [probs, v], f"{p}.context")
    ctx = g.op("Transpose", [ctx], f"{p}.context.transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, merged_shape], f"{p}.context.reshape")

    attn = g.linear(ctx, f"{p}.{names.output}")
    attn = g.op("Add", [attn, x], f"{p}.attention.residual")
    attn = g.layer_norm(attn, f"{p}.{names.layer_norm}", cfg.layer_norm_eps)

    inter = gelu(g, g.linear(attn, f"{p}.intermediate.dense"), p)
    out = g.linear(inter, f"{p}.output.dense")
    out = g.op("Add", [out, attn], f"{p}.output.residual")
    return g.layer_norm(out, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def padding_bias(g: GraphBuilder, mask_4d: str) -> str:
    """Additive attention bias from a ``[b, 1, 1, s]`` int mask: 0 for real tokens, -10000
    for padding."""
    mask_4d = g.op("Cast", [mask_4d], "mask.4d_float", to=TensorProto.FLOAT)
    inv = g.op("Sub", [g.const("mask.one", 1.0), mask_4d], "mask.inv")
    return g.op("Mul", [inv, g.const("mask.neg", -10000.0)], "mask.bias")


def mean_pool_normalize(g: GraphBuilder, x: str, mask: str) -> None:
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


def finish_model(
    g: GraphBuilder, name: str, inputs: tuple[str, ...], hidden: int, producer: str, version: int
) -> onnx.ModelProto:
    """The checked model of ``g``'s nodes: int64 ``[batch, sequence]`` inputs, the
    ``[batch, hidden]`` float :data:`OUTPUT`."""

    def int_input(n: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        g.nodes,
        name,
        [int_input(n) for n in inputs],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", hidden])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=producer,
        producer_version=str(version),
    )
    model.ir_version = 8  # readable by any onnxruntime >= 1.10
    onnx.checker.check_model(model)
    return model
