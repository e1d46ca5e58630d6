"""What a served query needs to know about the index, read in one statement: its
generation, the embedding model it was built with, and the stored policy's hash.

``netdocs serve`` reads this once per request instead of three separate queries (the
generation for the cache key, the model for the question vector, the policy hash to see
whether its cached policy is still the stored one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

SNAPSHOT_SQL = (
    "SELECT (SELECT generation FROM index_generation WHERE id),"
    " (SELECT value FROM index_meta WHERE key = 'embedding_model'),"
    " (SELECT value FROM index_meta WHERE key = 'embedding_dim'),"
    " (SELECT sha256 FROM index_policy)"
)


#: True while the index is still as ``%(gen)s``, ``%(model)s``, ``%(dim)s`` and ``%(sha)s``
#: describe it (a snapshot's :func:`match_params`): the same columns as ``SNAPSHOT_SQL``.
SNAPSHOT_MATCHES = (
    "(SELECT generation FROM index_generation WHERE id) = %(gen)s"
    " AND (SELECT value FROM index_meta WHERE key = 'embedding_model') = %(model)s"
    " AND (SELECT value FROM index_meta WHERE key = 'embedding_dim') = %(dim)s"
    " AND (SELECT sha256 FROM index_policy) IS NOT DISTINCT FROM %(sha)s"
)


@dataclass(frozen=True)
class IndexSnapshot:
    """The index as one request sees it."""

    generation: int
    model: tuple[str, int] | None  # (model id, dimension); None for an empty index
    policy_sha256: str | None  # None: no policy stored


def read_snapshot(conn: psycopg.Connection) -> IndexSnapshot:
    """The generation, recorded model and stored policy hash (one round trip)."""
    return snapshot_of_row(conn.execute(SNAPSHOT_SQL).fetchone())


def snapshot_of_row(row: Sequence[Any] | None) -> IndexSnapshot:
    """The snapshot of a :data:`SNAPSHOT_SQL` row (pure; for any driver)."""
    assert row is not None  # a SELECT of scalar subqueries always returns one row
    generation, model_id, dim, sha = row
    model = (str(model_id), int(dim)) if model_id is not None and dim is not None else None
    return IndexSnapshot(int(generation or 0), model, sha)


def match_params(snap: IndexSnapshot) -> dict[str, Any]:
    """The parameters of :data:`SNAPSHOT_MATCHES` for ``snap`` (which must name a model)."""
    if snap.model is None:
        raise ValueError("an empty index has no snapshot to match")
    model, dim = snap.model
    return {"gen": snap.generation, "model": model, "dim": str(dim), "sha": snap.policy_sha256}
