"""The MPNet graph builder against Hugging Face's MPNet on a tiny random-weight model.

``data/tiny_mpnet`` holds a 2-layer, 16-wide MPNet with random weights (LayerNorms too) and
the outputs of ``transformers.MPNetModel`` (torch) for it: mean-pooled, normalised vectors of
four sequences of 1-200 tokens padded with ``<pad>`` (so relative distances reach the
log-bucket range and the 128 clip), and the relative position buckets for -511..511. They
were made once in a scratch environment with torch; netdocs itself never imports torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from netdocs.embedding import onnx_mpnet
from netdocs.embedding.onnx_bert import OUTPUT

TINY = Path(__file__).parent / "data" / "tiny_mpnet"
EXPECTED = json.loads((TINY / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = onnx_mpnet.build_model(TINY / "model.safetensors", TINY / "config.json")
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    onnx.save_model(model, str(path))
    return path


def _feeds(ids: list[list[int]], mask: list[list[int]]) -> dict[str, np.ndarray]:
    return {
        "input_ids": np.array(ids, dtype=np.int64),
        "attention_mask": np.array(mask, dtype=np.int64),
    }


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run([OUTPUT], feeds)[0])


def test_buckets_match_hugging_face() -> None:
    table = onnx_mpnet.relative_position_buckets(512)  # [query, key]
    expected = np.array(EXPECTED["buckets"])  # for key - query = -511 .. 511
    assert EXPECTED["relative_offsets"][0] == -511
    np.testing.assert_array_equal(table[511, :], expected[:512])  # key - query <= 0
    np.testing.assert_array_equal(table[0, :], expected[511:])  # key - query >= 0


def test_graph_matches_hugging_face_mpnet(model_path: Path) -> None:
    out = _run(model_path, _feeds(EXPECTED["input_ids"], EXPECTED["attention_mask"]))
    expected = np.array(EXPECTED["sentence_embedding"], dtype=np.float32)
    assert out.shape == expected.shape == (4, 16)
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_padding_and_pad_id_do_not_change_a_vector(model_path: Path) -> None:
    """Positions come from the mask: a text alone, or padded with any id, gives one vector."""
    ids, mask = EXPECTED["input_ids"][2], EXPECTED["attention_mask"][2]
    n = sum(mask)
    alone = _run(model_path, _feeds([ids[:n]], [mask[:n]]))
    zero_padded = _run(model_path, _feeds([ids[:n] + [0] * 30], [mask[:n] + [0] * 30]))
    np.testing.assert_allclose(alone, zero_padded, atol=1e-6)
    np.testing.assert_allclose(alone[0], EXPECTED["sentence_embedding"][2], atol=2e-5)


def test_openvino_runs_the_graph(model_path: Path) -> None:
    ov = pytest.importorskip("openvino")
    compiled = ov.Core().compile_model(str(model_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(_feeds(EXPECTED["input_ids"], EXPECTED["attention_mask"]))
    out = np.asarray(result[OUTPUT])
    np.testing.assert_allclose(out, EXPECTED["sentence_embedding"], atol=1e-4)


def test_config_must_be_mpnet(tmp_path: Path) -> None:
    raw = json.loads((TINY / "config.json").read_text(encoding="utf-8"))
    raw["model_type"] = "bert"
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match=r"config\.json.*'bert'"):
        onnx_mpnet.MPNetConfig.from_json(bad)


def test_weights_with_mpnet_prefix_load(tmp_path: Path) -> None:
    """Checkpoints saved from MPNetForMaskedLM name tensors ``mpnet.*``."""
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(TINY / "model.safetensors"))
    save_file({f"mpnet.{k}": v for k, v in weights.items()}, str(tmp_path / "w.safetensors"))
    shutil.copy(TINY / "config.json", tmp_path / "config.json")
    model = onnx_mpnet.build_model(tmp_path / "w.safetensors", tmp_path / "config.json")
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path))
    out = _run(path, _feeds(EXPECTED["input_ids"], EXPECTED["attention_mask"]))
    np.testing.assert_allclose(out, EXPECTED["sentence_embedding"], atol=2e-5)
