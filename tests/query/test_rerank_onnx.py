"""The ONNX cross-encoder reranker with a tiny graph built here: its "relevance" is how
often the passage segment (token type 1) holds the word "reflector", so the expected
order is known without any trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import psycopg
import pytest
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from netdocs.config import Settings
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.query.api import run_search
from netdocs.query.rerank.onnx import OnnxCrossEncoder
from netdocs.query.results import Hit
from netdocs.query.service import SearchService

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "reflector": 4, "bgp": 5, "peer": 6}


def build_model(folder: Path) -> Path:
    """tokenizer.json (word level, BERT-style pair template) and model.onnx whose logit is
    the count of ``reflector`` tokens in the second segment."""
    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tok.save(str(folder / "tokenizer.json"))
    n, seq = "n", "seq"
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, [n, seq])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n, 1])
    target = helper.make_tensor("target", TensorProto.INT64, [], [VOCAB["reflector"]])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Equal", ["input_ids", "target"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["hit_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["token_type_ids"], ["type_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hit_f", "mask_f"], ["m1"]),
        helper.make_node("Mul", ["m1", "type_f"], ["m2"]),
        helper.make_node("ReduceSum", ["m2", "axes"], ["logits"], keepdims=1),
    ]
    graph = helper.make_graph(nodes, "tiny-cross-encoder", inputs, [out], [target, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    return folder


def hit(cid: str, text: str) -> Hit:
    return Hit(cid, f"{cid}.md", cid, text, 0.0)


def test_scores_pairs_with_the_passage_segment(tmp_path: Path) -> None:
    enc = OnnxCrossEncoder(build_model(tmp_path))
    cands = [hit("a", "bgp peer"), hit("b", "reflector reflector peer"), hit("c", "reflector")]
    scores = enc.rerank("bgp reflector reflector reflector", cands)  # question tokens: type 0
    assert scores == {"a": 0.0, "b": 2.0, "c": 1.0}
    many = [hit(str(i), "reflector " * (i % 3)) for i in range(40)]  # more than one batch
    assert enc.rerank("q", many) == {str(i): float(i % 3) for i in range(40)}
    assert np.isclose(enc.rerank("q", [hit("x", "reflector")])["x"], 1.0)


def test_run_search_with_the_onnx_reranker(
    add_doc: object, query_conn: psycopg.Connection, tmp_path: Path
) -> None:
    add_doc(  # type: ignore[operator]
        "routing/bgp.md",
        ["configs"],
        [("BGP > Peers", "Add a bgp peer with neighbor remote-as."),
         ("BGP > Reflector", "Mark a bgp peer as route reflector client.")],
    )  # fmt: skip
    base = dict(_env_file=None, embedding_provider="hashing", query_cache_ttl=0)

    def search(**kw: object) -> tuple[list[str], list[str]]:
        s = Settings(**{**base, **kw})  # type: ignore[arg-type]
        svc = SearchService(None, settings=s, conn=query_conn, embedder=HashingEmbedder())
        result = run_search(svc, "add a bgp peer", 2)
        return [h.heading for h in result.hits], result.notes

    offline, notes = search()
    assert offline == ["BGP > Peers", "BGP > Reflector"] and notes == []
    order, notes = search(rerank="onnx", rerank_model_dir=str(build_model(tmp_path)))
    assert order == ["BGP > Reflector", "BGP > Peers"]
    assert notes == [f"rerank: onnx {tmp_path.name} (2/2 scored)"]
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    order, notes = search(rerank="onnx", rerank_model_dir=str(tmp_path))
    assert order == offline and notes[0].startswith("rerank: fallback (cannot load")


@pytest.mark.parametrize("missing", ["model.onnx", "tokenizer.json"])
def test_missing_files_are_named(tmp_path: Path, missing: str) -> None:
    from netdocs.errors import ConfigError

    build_model(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(ConfigError, match=missing):
        OnnxCrossEncoder(tmp_path)
