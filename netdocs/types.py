"""Plain data types shared by the pipeline stages (no I/O, no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class DocFailure:
    """A document that could not be processed, with a reason naming the problem."""

    doc_id: str
    error: str
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredDoc:
    """What the index remembers of a committed document."""

    doc_id: str
    content_hash: str
    meta_hash: str


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
