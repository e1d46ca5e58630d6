"""Scan a folder into source documents: read, decode, front matter, tags, hashes.

Every file problem becomes a ``DocFailure`` naming the file; the scan goes on. Nothing is
read from outside the docs root (see :mod:`netdocs.confine`). A folder the walk could not
finish (a symlink loop, an unlistable folder) makes that folder *incomplete*: documents under
it are not deleted in that run; deletes elsewhere go ahead.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from netdocs.confine import OUTSIDE, inside, open_beneath, outside_failure, walk
from netdocs.filestat import NS, file_stat, trusted
from netdocs.linkcheck import LinkRefused, hardlink_refusal, link_refusal
from netdocs.policy import Policy, glob_match
from netdocs.types import DocFailure, SourceDoc, StoredDoc

DEFAULT_INCLUDE = ("**/*.md", "**/*.markdown", "**/*.txt")
#: libyaml's safe loader when present (about 10x faster than the pure-Python one).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ScanResult:
    """What the scan found: readable docs, per-file failures, folders not fully walked."""

    docs: list[SourceDoc] = field(default_factory=list)
    failures: list[DocFailure] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)  # folder id ("." root) -> why
    vanished: list[str] = field(default_factory=list)  # listed by the walk, gone when read

    @property
    def complete(self) -> bool:
        """True when every folder was walked to the end."""
        return not self.incomplete

    def held_back(self, doc_id: str) -> bool:
        """True when ``doc_id`` lies under a folder not fully walked (not deletable now)."""
        return any(
            folder in ("", ".") or doc_id == folder or doc_id.startswith(folder + "/")
            for folder in self.incomplete
        )

    @property
    def unreadable(self) -> set[str]:
        """Ids found but not read whose indexed version is kept (not outside the root)."""
        return {f.doc_id for f in self.failures if not f.details.get("outside")}

    @property
    def warnings(self) -> list[str]:
        """One line per document whose front-matter tags the policy did not let through."""
        return [
            f"{d.doc_id}: front-matter tags {list(d.ignored_tags)} ignored "
            "(not in the policy's front_matter_tags)"
            for d in self.docs
            if d.ignored_tags
        ]

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
                data = yaml.load("\n".join(lines[1:i]), Loader=_LOADER) or {}  # noqa: S506
            except yaml.YAMLError as e:
                raise ValueError(f"malformed YAML front matter: {e}") from None
            except Exception as e:  # a bad explicit tag (`!!timestamp nope`) raises others
                raise ValueError(f"malformed YAML front matter: {type(e).__name__}: {e}") from None
            if not isinstance(data, dict):
                raise ValueError("front matter is not a mapping")
            return data, "\n".join(lines[i + 1 :])
    raise ValueError("front matter opened with '---' is never closed")


def front_matter_tags(meta: dict[str, object]) -> tuple[str, ...]:
    """The ``tags:`` list of the front matter (a string is one tag); a tag with a control
    character is refused (ValueError), even one the policy would ignore."""
    raw = meta.get("tags")
    if raw is None:
        return ()
    if isinstance(raw, str):
        tags: tuple[str, ...] = (raw,)
    elif isinstance(raw, list) and all(isinstance(t, str | int) for t in raw):
        tags = tuple(str(t) for t in raw)
    else:
        raise ValueError("front matter 'tags' must be a list of strings")
    for tag in tags:  # stored with the document (NUL cannot be), shown in warnings
        if any(unicodedata.category(c) == "Cc" for c in tag):
            raise ValueError(f"front matter tag {tag!r} contains a control character")
    return tags


def decode(doc_id: str, data: bytes) -> str:
    """Bytes -> text, refusing binary and non-UTF-8 content with a clear reason.

    An empty (or whitespace-only) file is a valid document with no text: its indexed
    version becomes one without chunks, so an emptied document leaves the results.
    Line ends become ``\n``, including lone ``\r`` (old Mac files)."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"invalid UTF-8 at byte {e.start}") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")  # old Mac: CR


def read_document(
    root: Path,
    doc_id: str,
    policy: Policy | None,
    max_bytes: int,
    exclude: Sequence[str] = (),
) -> SourceDoc:
    """Read one file into a SourceDoc; raise ValueError/OSError with the reason.

    The path is resolved again here (it may have changed since the scan): a real path
    outside ``root`` is refused, so is one the link rule refuses (LinkRefused: see
    netdocs.linkcheck; ``exclude`` is the selection's), and the open does not follow links
    (see open_beneath): what is read is what was checked.
    """
    real_root = os.path.realpath(root)
    path = os.path.join(real_root, doc_id)
    if os.path.islink(path) and not os.path.exists(path):
        raise ValueError("broken symbolic link")
    real = os.path.realpath(path)
    if not inside(real, real_root) or real == real_root:
        raise ValueError(OUTSIDE)
    refused = link_refusal(real_root, doc_id, policy, _target_selected(exclude), real)
    if refused is not None:
        raise LinkRefused(refused)
    seen_ns = time.time_ns()  # before the read: a change from now on is "racy" for it
    fd = open_beneath(real_root, os.path.relpath(real, real_root))
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
        st = os.fstat(fh.fileno())
    refused = hardlink_refusal(st.st_nlink)
    if refused is not None:
        raise LinkRefused(refused)
    if len(data) > max_bytes:
        raise ValueError(f"file larger than the limit of {max_bytes} bytes")
    text = decode(doc_id, data)
    meta, _ = split_front_matter(text)
    declared = front_matter_tags(meta)
    tags, ignored = document_tags(policy, doc_id, declared)
    return SourceDoc(
        doc_id=doc_id,
        text=text,
        content_hash=hashlib.sha256(data).hexdigest(),
        tags=tags,
        meta_hash=meta_hash(tags),
        size=len(data),
        ignored_tags=ignored,
        declared_tags=declared,
        stat=file_stat(st, seen_ns),
    )


def document_tags(
    policy: Policy | None, doc_id: str, declared: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tags, ignored) of a document whose front matter declares ``declared``."""
    if policy is None:  # no roles exist without a policy: the tags decide nothing yet
        return tuple(sorted(set(declared))), ()
    return policy.document_tags(doc_id, declared)


def unchanged_doc(
    real_root: str, stored: StoredDoc, policy: Policy | None, max_bytes: int, margin_ns: int
) -> SourceDoc | None:
    """The document as indexed, without reading it, when its file's stat says it did not
    change since (see netdocs.filestat); None when it must be read. Its tags follow the
    current policy and path from the recorded front-matter tags."""
    rec, declared = stored.stat, stored.declared_tags
    if rec is None or declared is None:
        return None
    try:
        st = os.stat(os.path.join(real_root, stored.doc_id))
    except OSError:
        return None  # gone, a broken link, unreadable: the read says which
    if st.st_size > max_bytes or not trusted(rec, st, margin_ns):
        return None
    if st.st_nlink > 1 and hardlink_refusal(st.st_nlink):
        return None  # the read refuses it
    tags, ignored = document_tags(policy, stored.doc_id, declared)
    meta = meta_hash(tags)
    meta = stored.meta_hash if meta == stored.meta_hash else meta  # one string, not two
    return SourceDoc(
        stored.doc_id, "", stored.content_hash, tags, meta, rec.size, ignored, declared, rec
    )


def read_failure(doc_id: str, e: ValueError) -> DocFailure:
    """The failure of a file whose read raised ``e``: one out of the root or through a
    refused link is marked ``outside`` (its indexed version leaves the index)."""
    if str(e) == OUTSIDE:
        return outside_failure(doc_id)
    if isinstance(e, LinkRefused):
        return DocFailure(doc_id, str(e), {"outside": True})
    return DocFailure(doc_id, str(e))


def _target_selected(exclude: Sequence[str]) -> Callable[[str], bool]:
    """A link's target must not be excluded (the link's own name decides the file type)."""
    return lambda d: _selected(d, ("**",), exclude)


def _selected(doc_id: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    def match(glob: str) -> bool:
        # "**/*.md" should also match a file at the top level.
        return glob_match(glob, doc_id) or (glob.startswith("**/") and glob_match(glob[3:], doc_id))

    return any(match(g) for g in include) and not any(match(g) for g in exclude)


def scan(
    root: Path,
    policy: Policy | None = None,
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = (),
    max_bytes: int = 5_000_000,
    keep: Callable[[str], bool] | None = None,
    known: Mapping[str, StoredDoc] | None = None,
    racy_margin_s: float = 2.0,
) -> ScanResult:
    """Scan ``root``: every selected file becomes a SourceDoc or a DocFailure.

    ``keep`` narrows the selection further (a backfill's path scope): other files are
    neither read nor reported. ``known`` (the index's documents) enables the stat fast
    path: a file whose stat is unchanged is not read, its SourceDoc comes from the index.
    The scan's SourceDocs carry no text (the chunking stage reads the files it needs)."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    found = walk(
        str(root),
        lambda doc_id: _selected(doc_id, include, exclude) and (keep is None or keep(doc_id)),
    )
    result = ScanResult(failures=found.failures, incomplete=found.incomplete)
    real_root, margin_ns = os.path.realpath(root), int(racy_margin_s * NS)
    for doc_id in found.files:
        refused = link_refusal(real_root, doc_id, policy, _target_selected(exclude))
        if refused is not None:  # like a link out of the root: its old version leaves too
            result.failures.append(DocFailure(doc_id, refused, {"outside": True}))
            continue
        try:
            stored = known.get(doc_id) if known else None
            doc = unchanged_doc(real_root, stored, policy, max_bytes, margin_ns) if stored else None
            if doc is None:
                doc = replace(read_document(root, doc_id, policy, max_bytes, exclude), text="")
            result.docs.append(doc)
        except FileNotFoundError:
            result.vanished.append(doc_id)  # treated as not there; the run reports it
        except OSError as e:
            result.failures.append(DocFailure(doc_id, f"cannot read: {e.strerror or e}"))
        except ValueError as e:
            result.failures.append(read_failure(doc_id, e))
        except Exception as e:  # an unforeseen parse error fails this file, not the scan
            result.failures.append(DocFailure(doc_id, f"cannot read: {type(e).__name__}: {e}"))
    return result
