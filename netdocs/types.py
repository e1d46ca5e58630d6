"""Plain data types shared by the pipeline stages (no I/O, no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)  # one per document: no __dict__ each
class FileStat:
    """What a file looked like when its content was read (see netdocs.ingest.filestat)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    seen_ns: int  # wall clock just before the read started


@dataclass(frozen=True, slots=True)  # one per document: no __dict__ each
class SourceDoc:
    """A readable document found by the scan."""

    doc_id: str  # POSIX path relative to the scanned folder
    text: str
    content_hash: str  # sha256 of the raw bytes
    tags: tuple[str, ...]
    meta_hash: str  # sha256 over the sorted tags (and other metadata)
    size: int
    #: Front-matter tags the policy's ``front_matter_tags`` does not allow (not applied).
    ignored_tags: tuple[str, ...] = ()
    #: The file's own front-matter tags (before the policy), and its stat at the read.
    declared_tags: tuple[str, ...] = ()
    stat: FileStat | None = None


@dataclass(frozen=True)
class DocFailure:
    """A document that could not be processed, with a reason naming the problem."""

    doc_id: str
    error: str
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)  # one per document: no __dict__ each
class StoredDoc:
    """What the index remembers of a committed document."""

    doc_id: str
    content_hash: str
    meta_hash: str
    #: The file's stat and front-matter tags when that content was read (None: unknown).
    stat: FileStat | None = None
    declared_tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document.

    ``chunk_id`` depends only on (doc_id, heading path, text, and an occurrence counter for
    identical sections), so edits elsewhere in the document leave it unchanged.
    ``embed_text`` is the exact string given to the embedder (heading path + text).
    """

    chunk_id: str
    doc_id: str
    ordinal: int
    heading_path: tuple[str, ...]
    text: str
    embed_text: str
    text_hash: str  # sha256 of embed_text: the embedding-cache key with the model id
    token_count: int

    @property
    def heading(self) -> str:
        """The heading path as one readable string."""
        return " > ".join(self.heading_path)


@dataclass(frozen=True)
class ChangeSet:
    """The result of the hash-diff between the scan and the index."""

    new: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    metadata_only: tuple[str, ...]
    deleted: tuple[str, ...]
