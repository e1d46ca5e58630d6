"""What the server shares between requests: the settings, a bounded pool of database
connections, one question-embedding model, the policy, and the back-pressure limiter.

Every API request first takes a slot (``app``: a bounded wait, then ``Busy`` -> 503 +
Retry-After), then a pooled connection (bounded wait -> ``Busy``). Each
request builds its own ``SearchService`` on its pooled connection (a service serialises use
of its connection with a lock, so sharing one across requests would serialise the server);
the embedder is shared and guarded by one lock (tokenizers are not safe to share).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from netdocs.cache.counters import CounterBuffer
from netdocs.config import Settings
from netdocs.embedding.base import Embedder, Vectors
from netdocs.errors import ConfigError
from netdocs.policy import Policy, load_policy
from netdocs.query.service import SearchService
from netdocs.server.auth import Principal
from netdocs.server.policy_guard import in_force
from netdocs.server.tokens import TokenCache
from netdocs.store.policy_store import load_stored_policy
from netdocs.store.snapshot import read_snapshot

log = logging.getLogger(__name__)

#: How long a request that holds a slot may wait for a pooled connection.
POOL_WAIT_S = 5.0
#: Connections beyond the query slots, for /healthz and /metrics.
SPARE_CONNECTIONS = 2
#: The buffered cache hit/miss counts are written this often (seconds).
FLUSH_EVERY_S = 1.0
#: The pooled connections' application_name (pg_stat_activity tells the server's apart).
APP_NAME = "netdocs-serve"


class Busy(Exception):
    """The server is at its concurrency limit (HTTP 503 with Retry-After)."""


class SharedEmbedder:
    """One embedder for every request thread, one call at a time."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.model_id, self.dim = inner.model_id, inner.dim
        self.max_tokens, self.normalized = inner.max_tokens, inner.normalized

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """As the wrapped embedder."""
        with self._lock:
            return self._inner.count_tokens(texts)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """As the wrapped embedder."""
        with self._lock:
            return np.asarray(self._inner.embed(texts), dtype=np.float32)


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)


class Runtime:
    """The server's shared state (built once at startup)."""

    def __init__(self, settings: Settings, url: str) -> None:
        if settings.serve_max_concurrent < 1:
            raise ConfigError("NETDOCS_SERVE_MAX_CONCURRENT must be at least 1")
        self.settings = settings
        self.url = url  # the async cached-answer pool connects to it too (see fastpath)
        self._policy_path: Path | None = settings.policy
        self._policy: tuple[object, Policy] | None = None
        #: NETDOCS_POLICY's policy as in force: (file version, stored hash, policy).
        self._in_force: tuple[object, str, Policy] | None = None
        self.limit = settings.serve_max_concurrent
        self.tokens = TokenCache(settings.serve_token_cache_s)
        self.counters = CounterBuffer()
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="netdocs-serve-counters", daemon=True
        )
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=self.limit + SPARE_CONNECTIONS,
            kwargs={"autocommit": True, "connect_timeout": 10, "application_name": APP_NAME},
            configure=_configure,
            open=True,
            name="netdocs-serve",
        )
        self._embedder: SharedEmbedder | None = None
        self._embedder_lock = threading.Lock()
        try:
            with self.connection() as conn:
                self.policy(conn)  # no policy, or a bad one, fails at startup, naming it
        except BaseException:
            self.pool.close()
            raise
        self._flusher.start()

    def policy(self, conn: psycopg.Connection, stored_sha256: str | None = None) -> Policy:
        """NETDOCS_POLICY (re-read when the file changes), else the policy stored in the
        index (re-read when its hash changes; ``stored_sha256``: the hash just read, so an
        unchanged policy costs no query); none at all is a ConfigError (fail closed)."""
        if self._policy_path is not None:
            return self._file_in_force(self._policy_path, conn, stored_sha256)
        if stored_sha256 is not None and self._policy and self._policy[0] == stored_sha256:
            return self._policy[1]
        stored = load_stored_policy(conn)
        if stored is None:
            raise ConfigError(
                "no access policy: the index stores none (ingest with --policy) and "
                "NETDOCS_POLICY is not set; `netdocs serve` binds tokens to the policy's roles"
            )
        if self._policy is None or self._policy[0] != stored.sha256:
            self._policy = (stored.sha256, stored.policy())
        return self._policy[1]

    def cached_policy(self, stored_sha256: str | None) -> Policy | None:
        """The policy in force when no database read is needed: NETDOCS_POLICY's, or the
        stored one already parsed for hash ``stored_sha256``; None otherwise."""
        if self._policy_path is not None:
            file = self._file_policy(self._policy_path)
            hit = self._in_force
            if hit and stored_sha256 and hit[0] == self._file_version and hit[1] == stored_sha256:
                return hit[2]
            return file if stored_sha256 == file.sha256 else None
        cached = self._policy
        if stored_sha256 is not None and cached is not None and cached[0] == stored_sha256:
            return cached[1]
        return None

    @property
    def _file_version(self) -> object:
        return self._policy[0] if self._policy else None

    def _file_in_force(
        self, path: Path, conn: psycopg.Connection, stored_sha256: str | None
    ) -> Policy:
        """NETDOCS_POLICY's policy, never wider than the stored one the chunks' tags follow
        (see :mod:`netdocs.server.policy_guard`)."""
        file = self._file_policy(path)
        hit = self._in_force
        if hit and stored_sha256 and hit[0] == self._file_version and hit[1] == stored_sha256:
            return hit[2]
        stored = load_stored_policy(conn)
        has_docs = False
        if stored is None:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone()
            has_docs = bool(row and row[0])
        policy = in_force(file, stored.policy() if stored else None, has_docs)
        if stored is not None:
            self._in_force = (self._file_version, stored.sha256, policy)
        return policy

    def _file_policy(self, path: Path) -> Policy:
        """NETDOCS_POLICY, parsed again when its stat changes (mtime, ctime, size, inode: a
        second edit within a coarse mtime tick still moves one of the others, or the inode
        when the editor writes a new file)."""
        try:
            st = path.stat()
            version: object = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the policy file: {e}") from None
        cached = self._policy
        if cached is None or cached[0] != version:
            cached = (version, load_policy(path))
            self._policy = cached
        return cached[1]

    @property
    def embedder(self) -> SharedEmbedder:
        """The question-embedding model, built on first use and shared."""
        with self._embedder_lock:
            if self._embedder is None:
                from netdocs.embedding.factory import get_embedder

                self._embedder = SharedEmbedder(get_embedder(self.settings, purpose="query"))
            return self._embedder

    @contextmanager
    def connection(self, timeout: float = POOL_WAIT_S) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection; ``Busy`` when none frees up in time."""
        try:
            with self.pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout:
            raise Busy("no database connection free") from None

    def service(self, conn: psycopg.Connection, principal: Principal) -> SearchService:
        """A search service for ``principal``'s role (AccessDenied for a role the policy
        no longer defines) on ``conn``, given the index's generation and model as read now
        (one query for those and the policy's hash)."""
        index = read_snapshot(conn)  # one query: generation, model, policy hash
        allowed = self.policy(conn, index.policy_sha256).allowed_tags(principal.role)
        svc = SearchService(allowed, settings=self.settings, conn=conn, embedder=self.embedder)
        svc.preset(index.model, index.generation)
        svc.role = principal.role
        svc.counters = self.counters
        return svc

    def flush_counters(self) -> None:
        """Write the buffered cache counts (best effort: kept for the next try on failure)."""
        if not self.counters.pending():
            return
        try:
            with self.connection(timeout=FLUSH_EVERY_S) as conn:
                self.counters.flush(conn)
        except Exception as e:  # statistics never fail the server
            log.warning("cache counters not written yet: %s", type(e).__name__)

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            self.flush_counters()

    def close(self) -> None:
        """Write the last counts, close the pool."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout=10)
        self.flush_counters()
        self.pool.close()
