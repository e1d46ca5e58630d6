"""The access policy stored in the index: the text (and sha256) of the policy it was built with.

Ingest stores the policy it was given (``store_policy``); query roles resolve against the
stored one unless another is given (see ``netdocs.query.access``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from netdocs.policy import Policy, policy_from_text


@dataclass(frozen=True)
class StoredPolicy:
    """The policy row of the index."""

    content: str
    sha256: str
    source: str  # the file it was read from, when stored
    stored_at: datetime
    run_id: UUID | None

    def policy(self) -> Policy:
        """Parse the stored text (a ConfigError names it as the stored policy)."""
        where = f"the policy stored in the index (from {self.source})"
        return policy_from_text(self.content, where)


def load_stored_policy(conn: psycopg.Connection) -> StoredPolicy | None:
    """The policy the index was built with; None when none was ever stored (or before
    migration 004)."""
    try:
        row = conn.execute(
            "SELECT content, sha256, source, stored_at, run_id FROM index_policy"
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        if not conn.autocommit:
            conn.rollback()
        return None
    return StoredPolicy(*row) if row else None


def store_policy(conn: psycopg.Connection, policy: Policy, run_id: UUID | None) -> bool:
    """Replace the stored policy by ``policy``; True when its content changed."""
    if not policy.content.strip():
        raise ValueError("only a policy read from text (load_policy/policy_from_text) is stored")
    with conn.transaction():
        row = conn.execute("SELECT sha256 FROM index_policy FOR UPDATE").fetchone()
        if row is not None and row[0] == policy.sha256:
            return False
        conn.execute(
            "INSERT INTO index_policy (singleton, content, sha256, source, run_id)"
            " VALUES (true, %s, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET"
            " content = EXCLUDED.content, sha256 = EXCLUDED.sha256, source = EXCLUDED.source,"
            " run_id = EXCLUDED.run_id, stored_at = now()",
            (policy.content, policy.sha256, policy.source, run_id),
        )
    return True
