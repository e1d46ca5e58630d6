"""A search session: one connection, the index's embedder, the caller's tag set."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from netdocs.config import Settings, get_settings
from netdocs.embedding.base import Embedder
from netdocs.errors import ConfigError
from netdocs.policy import Policy
from netdocs.query.access import Access, given_policy, resolve_access
from netdocs.query.pending import PendingVector
from netdocs.query.results import Hit
from netdocs.query.search import Mode, clean_text, search
from netdocs.query.timing import timed
from netdocs.store.snapshot import IndexSnapshot, read_snapshot

if TYPE_CHECKING:
    from netdocs.cache.counters import CounterBuffer


def _snapshot(conn: psycopg.Connection) -> IndexSnapshot | None:
    """The index as it is now (None for an injected, never-migrated connection)."""
    try:
        return read_snapshot(conn)
    except psycopg.errors.UndefinedTable:
        if not conn.autocommit:
            conn.rollback()
        return None


def _open(settings: Settings) -> psycopg.Connection:
    """An autocommit connection to the configured index, whose schema must be current.

    Never migrates: a SELECT-only role must be able to search (``netdocs db migrate``)."""
    from netdocs.db import connect, database_url
    from netdocs.store.schema import require_schema

    conn = connect(database_url(settings), autocommit=True, vector=False)
    try:
        require_schema(conn)
        from pgvector.psycopg import register_vector

        register_vector(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class SearchService:
    """Searches with one effective tag set (None = unrestricted). Thread-safe: one lock
    serialises use of the connection and the embedder.

    ``conn`` / ``embedder`` may be passed in (tests, notebooks); otherwise the configured
    database and embedder are used, and the connection is closed with the service.
    """

    role: str | None = None  # the caller's role name, for the audit log (set by for_role)
    #: Where cache hit/miss counts go (None: an UPDATE per lookup; the server buffers them).
    counters: CounterBuffer | None = None

    def __init__(
        self,
        allowed: frozenset[str] | None,
        *,
        settings: Settings | None = None,
        conn: psycopg.Connection | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.allowed = allowed
        self._owns_conn = conn is None
        if conn is None:
            conn = _open(self.settings)
        self.conn = conn
        #: How the tag set was resolved (set by ``for_role``; None when built directly).
        self.access: Access | None = None
        self._embedder = embedder
        self._embedder_given = embedder is not None
        self._lock = threading.Lock()
        self._model: tuple[str, int] | None = None
        self._model_read = False
        self._generation: int | None = None
        self._preset = False  # the generation was set by the caller (see preset)
        self._given: Policy | None = None  # for_role: the policy given, re-resolved against
        self._stored_sha: str | None = None  # the stored policy the role was resolved under

    @classmethod
    def for_role(
        cls,
        role: str | None = None,
        policy: Path | str | None = None,
        *,
        settings: Settings | None = None,
        conn: psycopg.Connection | None = None,
        embedder: Embedder | None = None,
    ) -> SearchService:
        """A service for ``role`` (default NETDOCS_ROLE) under ``policy`` (default
        NETDOCS_POLICY, else the policy stored in the index); fails closed, see
        ``netdocs.query.access``."""
        settings = settings or get_settings()
        given = given_policy(settings, policy)
        if given is not None:  # an unknown role fails before connecting
            given.allowed_tags(role if role is not None else settings.role)
        owns = conn is None
        conn = conn if conn is not None else _open(settings)
        try:
            snap = _snapshot(conn)  # before resolving: a change after it is followed
            stored_sha = snap.policy_sha256 if snap else None
            access = resolve_access(conn, settings, role, given)
        except BaseException:
            if owns:
                conn.close()
            raise
        service = cls(access.allowed, settings=settings, conn=conn, embedder=embedder)
        service._owns_conn = owns
        service.access = access
        service.role = access.role
        service._given, service._stored_sha = given, stored_sha
        return service

    def follow_index(self) -> None:
        """Catch up with the index before a query, for a long-lived service (a notebook, a
        LlamaIndex engine): the role is resolved again when another policy was stored since
        (``AccessDenied`` when the role is gone: a narrowed role applies at once), and the
        question model is chosen again when another was recorded. The generation read is
        kept for the query's cache lookup. Nothing when the caller preset this instant's
        view (the server, per request)."""
        if self._preset:
            return
        with self._lock:
            snap = _snapshot(self.conn)
            if snap is None:
                return
            if self.access is not None and snap.policy_sha256 != self._stored_sha:
                access = resolve_access(self.conn, self.settings, self.access.role, self._given)
                self.access, self.allowed = access, access.allowed
                self._stored_sha = snap.policy_sha256
            if self._model_read and snap.model != self._model:
                self._model, self._model_read = snap.model, snap.model is not None
                if not self._embedder_given:
                    self._embedder = None
            self._generation = snap.generation

    @property
    def index_model(self) -> tuple[str, int] | None:
        """(model id, dimension) the index was built with; None for an empty index."""
        if not self._model_read:
            from netdocs.store.schema import recorded_model

            try:
                self._model = recorded_model(self.conn)
            except psycopg.errors.UndefinedTable:  # an injected, never-migrated connection
                if not self.conn.autocommit:
                    self.conn.rollback()
                self._model = None
            self._model_read = self._model is not None  # re-read while the index is empty
        return self._model

    def preset(self, model: tuple[str, int] | None, generation: int) -> None:
        """What the caller already read of the index this instant (the server, once per
        request): the recorded model, and the generation for the next cache lookup only."""
        self._model, self._model_read = model, model is not None
        self._generation, self._preset = generation, True

    def take_generation(self) -> int | None:
        """The preset generation, once (a later lookup reads the current one itself)."""
        generation, self._generation, self._preset = self._generation, None, False
        return generation

    @property
    def embedder(self) -> Embedder:
        """The embedder of the index's recorded model (built on first use). While a rebuild
        to another configured model is pending, questions keep the served model."""
        if self._embedder is None:
            from netdocs.embedding.factory import embedder_for_model, get_embedder

            model = self.index_model
            if model is None:
                return get_embedder(self.settings, purpose="query")
            self._embedder = embedder_for_model(self.settings, *model, purpose="query")
        return self._embedder

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector, after checking the embedder matches the index."""
        return self.query_embedding(text)()

    def query_embedding(self, text: str) -> Callable[[], np.ndarray]:
        """A call that embeds ``text`` and touches no connection (safe on a worker
        thread); the embedder is checked against the index here, in the caller's thread."""
        model = self.index_model
        emb = self.embedder
        if model is not None and model != (emb.model_id, emb.dim):
            raise ConfigError(
                f"the index was built with {model[0]} ({model[1]}-d) but the configured "
                f"embedder is {emb.model_id} ({emb.dim}-d): set NETDOCS_EMBEDDING_PROVIDER "
                "to match, or re-ingest"
            )
        return lambda: np.asarray(emb.embed([text])[0], dtype=np.float32)

    def search(
        self,
        text: str,
        k: int = 5,
        mode: Mode = "fused",
        vector: np.ndarray | PendingVector | None = None,
        *,
        timings: dict[str, float] | None = None,
        pool: int = 0,
    ) -> list[Hit]:
        """The top ``k`` chunks this role may see (empty when nothing is indexed); up to
        ``pool`` candidates when ``pool`` > k (see :func:`netdocs.query.search.search`).

        ``timings``, when given, receives per-stage milliseconds (``embed_ms`` and those of
        :func:`netdocs.query.search.search`).
        """
        text = clean_text(text)
        with self._lock:
            model = self.index_model
            if model is None:
                return []
            if vector is None and mode == "fused":  # embedded during the full-text query
                vector = PendingVector(self.query_embedding(text), timings=timings)
            elif vector is None and mode == "dense":
                with timed(timings, "embed_ms"):
                    vector = self.embed_query(text)
            return search(
                self.conn,
                text,
                vector,
                self.allowed,
                k,
                mode,
                dim=model[1],
                timings=timings,
                stale_max_age=self.settings.stale_max_age,
                pool=pool,
            )

    def close(self) -> None:
        """Close the connection if this service opened it."""
        if self._owns_conn:
            self.conn.close()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
