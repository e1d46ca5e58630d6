"""Scan a folder into source documents: read, decode, front matter, tags, hashes.

Every file problem becomes a ``DocFailure`` naming the file; the scan goes on. Problems with
the walk itself (an unreadable directory, a symlink loop) make the scan *incomplete*, which
forbids deletes in that run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netdocs.policy import Policy, glob_match
from netdocs.types import DocFailure, SourceDoc

DEFAULT_INCLUDE = ("**/*.md", "**/*.markdown", "**/*.txt")


@dataclass
class ScanResult:
    """What the scan found: readable docs, per-file failures, and whether the walk completed."""

    docs: list[SourceDoc] = field(default_factory=list)
    failures: list[DocFailure] = field(default_factory=list)
    walk_errors: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # listed by the walk, gone when read

    @property
    def complete(self) -> bool:
        """True when every directory could be listed (deletes are allowed)."""
        return not self.walk_errors

    @property
    def seen_ids(self) -> set[str]:
        """Every document id found, readable or not."""
        return {d.doc_id for d in self.docs} | {f.doc_id for f in self.failures}


def meta_hash(tags: Sequence[str]) -> str:
    """The hash of a document's metadata (its sorted tags)."""
    return hashlib.sha256(json.dumps(sorted(set(tags))).encode()).hexdigest()


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """Split a leading ``---`` YAML block off ``text``; raise ValueError if it is malformed."""
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            try:
                data = yaml.safe_load("\n".join(lines[1:i])) or {}
            except yaml.YAMLError as e:
                raise ValueError(f"malformed YAML front matter: {e}") from None
            if not isinstance(data, dict):
                raise ValueError("front matter is not a mapping")
            return data, "\n".join(lines[i + 1 :])
    raise ValueError("front matter opened with '---' is never closed")


def front_matter_tags(meta: dict[str, object]) -> tuple[str, ...]:
    """The ``tags:`` list of the front matter (a string is one tag)."""
    raw = meta.get("tags")
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(t, str | int) for t in raw):
        return tuple(str(t) for t in raw)
    raise ValueError("front matter 'tags' must be a list of strings")


def decode(doc_id: str, data: bytes) -> str:
    """Bytes -> text, refusing empty, binary and non-UTF-8 content with a clear reason."""
    if not data.strip():
        raise ValueError("empty file")
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"invalid UTF-8 at byte {e.start}") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def read_document(root: Path, doc_id: str, policy: Policy | None, max_bytes: int) -> SourceDoc:
    """Read one file into a SourceDoc; raise ValueError/OSError with the reason."""
    path = root / doc_id
    if path.is_symlink() and not path.exists():
        raise ValueError("broken symbolic link")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"file larger than the limit of {max_bytes} bytes")
    text = decode(doc_id, data)
    meta, _ = split_front_matter(text)
    tags = tuple(
        sorted(set(front_matter_tags(meta)) | set(policy.tags_for(doc_id) if policy else ()))
    )
    return SourceDoc(
        doc_id=doc_id,
        text=text,
        content_hash=hashlib.sha256(data).hexdigest(),
        tags=tags,
        meta_hash=meta_hash(tags),
        size=len(data),
    )


def _selected(doc_id: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    def match(glob: str) -> bool:
        # "**/*.md" should also match a file at the top level.
        return glob_match(glob, doc_id) or (glob.startswith("**/") and glob_match(glob[3:], doc_id))

    return any(match(g) for g in include) and not any(match(g) for g in exclude)


def walk(root: Path, include: Sequence[str], exclude: Sequence[str]) -> tuple[list[str], list[str]]:
    """List selected file ids under ``root`` (sorted) and the walk errors met."""
    errors: list[str] = []
    found: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()

    def onerror(err: OSError) -> None:
        errors.append(f"{err.filename}: {err.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: do not descend again
            errors.append(f"{Path(dirpath).relative_to(root).as_posix()}: symlink loop")
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for name in filenames:
            doc_id = (Path(dirpath) / name).relative_to(root).as_posix()
            if _selected(doc_id, include, exclude):
                found.append(doc_id)
    return sorted(found), errors


def scan(
    root: Path,
    policy: Policy | None = None,
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = (),
    max_bytes: int = 5_000_000,
) -> ScanResult:
    """Scan ``root``: every selected file becomes a SourceDoc or a DocFailure."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    result = ScanResult()
    ids, result.walk_errors = walk(root, include, exclude)
    for doc_id in ids:
        try:
            result.docs.append(read_document(root, doc_id, policy, max_bytes))
        except FileNotFoundError:
            result.vanished.append(doc_id)  # treated as not there; the run reports it
        except OSError as e:
            result.failures.append(DocFailure(doc_id, f"cannot read: {e.strerror or e}"))
        except ValueError as e:
            result.failures.append(DocFailure(doc_id, str(e)))
    return result
