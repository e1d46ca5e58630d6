"""NETDOCS_LOCAL_MODEL: model ids per model, the mpnet weight packages, and the factory."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from netdocs.config import Settings
from netdocs.embedding import mpnet_files
from netdocs.embedding.factory import embedder_for_model, get_embedder
from netdocs.embedding.local import model_id_for
from netdocs.errors import ConfigError

MINILM_ID = "local/all-MiniLM-L6-v2@onnx-fp32-v1"  # what existing indexes recorded
MPNET_ID = "local/all-mpnet-base-v2@onnx-fp32-v1"


def _installed() -> bool:
    try:
        mpnet_files.part_paths()
    except ConfigError:
        return False
    return True


def test_model_ids_name_the_model() -> None:
    assert model_id_for("fp32") == MINILM_ID  # unchanged: no rebuild on upgrade
    assert model_id_for("fp32", "all-MiniLM-L6-v2") == MINILM_ID
    assert model_id_for("fp32", "all-mpnet-base-v2") == MPNET_ID
    with pytest.raises(ValueError, match="unknown local model 'mpnet'"):
        model_id_for("fp32", "mpnet")


def test_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().local_model == "all-MiniLM-L6-v2"
    monkeypatch.setenv("NETDOCS_LOCAL_MODEL", "all-mpnet-base-v2")
    assert Settings().local_model == "all-mpnet-base-v2"
    monkeypatch.setenv("NETDOCS_LOCAL_MODEL", "bge-small")
    with pytest.raises(ValidationError, match="local_model"):
        Settings()


def test_missing_weight_packages_name_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mpnet_files, "PARTS", ("netdocs-no-such-part-001",) * 5)
    settings = Settings(embedding_provider="local", local_model="all-mpnet-base-v2", home=tmp_path)
    with pytest.raises(ConfigError, match=r"netdocs-no-such-part-001.*not installed.*--no-deps"):
        get_embedder(settings)


def test_int8_is_for_minilm_only(tmp_path: Path) -> None:
    settings = Settings(
        embedding_provider="local",
        local_model="all-mpnet-base-v2",
        local_precision="int8",
        home=tmp_path,
    )
    with pytest.raises(ConfigError, match="int8 is for all-MiniLM-L6-v2 only"):
        get_embedder(settings)


def test_index_model_is_served_while_another_is_configured(tmp_path: Path) -> None:
    """An index of MiniLM vectors keeps being queried with MiniLM after the switch to
    mpnet (until the rebuild swaps), and the other way round."""
    to_mpnet = Settings(embedding_provider="local", local_model="all-mpnet-base-v2", home=tmp_path)
    emb = embedder_for_model(to_mpnet, MINILM_ID, 384)
    assert (emb.model_id, emb.dim) == (MINILM_ID, 384)
    if _installed():
        back = Settings(embedding_provider="local", home=tmp_path)
        emb = embedder_for_model(back, MPNET_ID, 768)
        assert (emb.model_id, emb.dim, emb.max_tokens) == (MPNET_ID, 768, 384)


def _split_zip(tmp_path: Path, files: dict[str, bytes]) -> list[Path]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    raw = buf.getvalue()
    cut = [0, *(len(raw) * i // 5 for i in range(1, 5)), len(raw)]
    parts = []
    for i in range(5):
        part = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(raw[cut[i] : cut[i + 1]])
        parts.append(part)
    return parts


FILES = {
    "all-mpnet-base-v2/model.safetensors": b"W" * 5000,
    "all-mpnet-base-v2/config.json": b'{"model_type": "mpnet"}',
    "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
    "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
}


def test_split_zip_is_joined_and_extracted_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = _split_zip(tmp_path, FILES)
    monkeypatch.setattr(mpnet_files, "part_paths", lambda: parts)
    folder = mpnet_files.model_dir(tmp_path / "models")
    assert (folder / "model.safetensors").read_bytes() == b"W" * 5000
    assert (folder / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not (folder / "desktop.ini").exists()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert mpnet_files.model_dir(tmp_path / "models") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not extracted again
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folder.name]  # no temp left


def test_corrupt_piece_leaves_no_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, FILES)
    data = bytearray(parts[1].read_bytes())  # inside the stored model.safetensors bytes
    data[100] ^= 0xFF
    parts[1].write_bytes(bytes(data))
    monkeypatch.setattr(mpnet_files, "part_paths", lambda: parts)
    with pytest.raises(zipfile.BadZipFile):
        mpnet_files.model_dir(tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.skipif(not _installed(), reason="the all-mpnet-base-v2 weight packages are absent")
def test_installed_pieces_are_found_in_order() -> None:
    parts = mpnet_files.part_paths()
    assert [p.name for p in parts] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]
    assert all(p.stat().st_size > 1_000_000 for p in parts)
