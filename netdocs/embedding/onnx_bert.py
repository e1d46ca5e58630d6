"""Build an fp32 ONNX graph of a BERT sentence encoder straight from safetensors weights.

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64,
``[batch, seq]``) and returns ``sentence_embedding`` (float32, ``[batch, hidden]``): the
encoder's last hidden state, mean-pooled over the attention mask and L2-normalised -- what
sentence-transformers computes for all-MiniLM-L6-v2. No torch or transformers involved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from safetensors.numpy import load_file

from netdocs.embedding.onnx_graph import (
    OPSET,
    OUTPUT,
    AttentionNames,
    EncoderConfig,
    GraphBuilder,
    encoder_layer,
    finish_model,
    mean_pool_normalize,
    padding_bias,
)

__all__ = ["BUILDER_VERSION", "INPUTS", "OPSET", "OUTPUT", "BertConfig", "build_model"]

#: Bump whenever the graph this module builds changes (it is part of the cache key).
BUILDER_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ATTENTION = AttentionNames(
    query="attention.self.query",
    key="attention.self.key",
    value="attention.self.value",
    output="attention.output.dense",
    layer_norm="attention.output.LayerNorm",
    bias_node="masked",
)


@dataclass(frozen=True)
class BertConfig(EncoderConfig):
    """The few HF ``config.json`` fields the graph needs."""

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        """Read a Hugging Face BERT ``config.json`` (absolute positions, erf GELU only)."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {raw.get('hidden_act')!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(**cls.fields(raw))


def build_model(weights_path: Path, config_path: Path) -> onnx.ModelProto:
    """Build the sentence-embedding graph (encoder + mean pooling + L2 norm)."""
    cfg = BertConfig.from_json(config_path)
    weights = load_file(str(weights_path))
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    g = GraphBuilder(weights)

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

    # additive attention bias, shape [b, 1, 1, s] (node sequence as in the HF export, so
    # onnxruntime's attention fusion recognises it)
    mask_4d = g.op("Unsqueeze", [mask, g.const("mask.axis1", [1], np.int64)], "mask.3d")
    mask_4d = g.op("Unsqueeze", [mask_4d, g.const("mask.axis2", [2], np.int64)], "mask.4d")
    mask_bias = padding_bias(g, mask_4d)

    for i in range(cfg.num_layers):
        x = encoder_layer(g, x, mask_bias, i, cfg, ATTENTION)
    mean_pool_normalize(g, x, mask)
    return finish_model(
        g,
        "bert_sentence_encoder",
        INPUTS,
        cfg.hidden_size,
        "netdocs.embedding.onnx_bert",
        BUILDER_VERSION,
    )
