"""A model variant is built in a child process, so the caller never holds the build's memory."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from netdocs.embedding import onnx_cache


def test_a_variant_is_built_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def in_this_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("the variant was built in the calling process")

    monkeypatch.setattr(onnx_cache, "build_variant", in_this_process)
    path = onnx_cache.ensure_variant(tmp_path, "fp32", False)
    assert path.is_file() and path.parent == tmp_path
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file is gone
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} >= {"input_ids", "attention_mask"}
    assert onnx_cache.ensure_variant(tmp_path, "fp32", False) == path  # cached: not rebuilt


def test_a_failed_build_names_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    from netdocs.embedding.models import get_model

    spec = get_model("all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match=r"building .*\.tmp failed: .*"):
        onnx_cache._build_in_child(
            tmp_path / "no-weights", tmp_path / "x.tmp", "fp32", False, spec.name
        )
    assert not (tmp_path / "x.tmp").exists()
