"""The netdocs error hierarchy.

    NetdocsError
    ├── ConfigError            bad settings or policy file (names the field / file)
    │   └── ModelChangeRefused a different embedding model without --reembed
    ├── DatabaseError          database unreachable, pgvector missing, migration failed
    │   └── SchemaOutdated     the query path found a schema that needs migrations
    ├── DocumentError          one document cannot be processed (names the file)
    │   └── ValidationFailed   the data-quality gate rejected a document's chunks
    ├── EmbeddingError         the embedding model or provider failed
    │   └── EmbeddingProviderError   a remote provider call failed (HTTP, timeout)
    │       └── EmbeddingProviderUnavailable   its circuit breaker is open: not called
    ├── MassDeleteRefused      a run would delete an unusual share of the index
    ├── RunLocked              another ingest run holds the index lock
    ├── LockLost               the run's lock session ended: the run stopped (not exclusive)
    └── AccessDenied           unknown or missing role when a policy is loaded

The library raises these; the CLI turns them into messages and exit codes.
"""

from __future__ import annotations


class NetdocsError(Exception):
    """Base class of every error netdocs raises on purpose."""


class ConfigError(NetdocsError):
    """Invalid configuration or policy file."""


class DatabaseError(NetdocsError):
    """The database cannot be used (unreachable, no pgvector, migration failed)."""


class SchemaOutdated(DatabaseError):
    """The database lacks migrations; read-only commands never apply them."""


class ModelChangeRefused(ConfigError):
    """The configured embedding model differs from the index's and --reembed was not given."""


class DocumentError(NetdocsError):
    """A single document cannot be processed; carries its path."""

    def __init__(self, doc_id: str, message: str) -> None:
        super().__init__(f"{doc_id}: {message}")
        self.doc_id = doc_id
        self.reason = message


class ValidationFailed(DocumentError):
    """The data-quality gate rejected a document's chunks."""


class EmbeddingError(NetdocsError):
    """The embedding model failed."""


class EmbeddingProviderError(EmbeddingError):
    """A remote embedding provider failed (HTTP error, timeout, malformed answer)."""


class EmbeddingProviderUnavailable(EmbeddingProviderError):
    """The embedding provider's circuit breaker is open: no call was made."""


class MassDeleteRefused(NetdocsError):
    """A run would delete more than the allowed share of the index."""


class RunLocked(NetdocsError):
    """Another ingest run holds the lock on this index."""


class LockLost(NetdocsError):
    """The database session holding the ingest lock ended: the run is no longer exclusive."""


class BadQuestion(NetdocsError):
    """A question with nothing to search for (empty, or only invisible characters)."""


class AccessDenied(NetdocsError):
    """Unknown or missing role while an access policy is loaded."""
