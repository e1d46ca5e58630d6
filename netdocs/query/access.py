"""The caller's effective tag set: role + policy -> the tags a query may see. Fails closed.

The policy is the one given (``--policy`` / ``NETDOCS_POLICY``), else the one stored in the
index by the last ingest that was given a policy. A given policy that differs from the stored
one is narrowed to what both grant (see netdocs.server.policy_guard): the chunks' tags follow
the stored one until an ingest stores the new one. Then:

- a policy and a known role: that role's tags (None for a ``*`` role);
- a policy and an unknown role, or no role at all: ``AccessDenied`` naming the roles;
- no policy at all and a role: ``AccessDenied`` (a role cannot be checked, so nothing is shown);
- no policy at all and no role: unrestricted (an index built without a policy has no roles);
- a policy given for an index with documents but no stored policy: ``ConfigError`` (those
  documents' tags are their front matter as written, which a role must not be checked
  against; ingest with the policy first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

from netdocs.config import Settings
from netdocs.errors import AccessDenied
from netdocs.policy import Policy, load_policy
from netdocs.server.policy_guard import in_force
from netdocs.store.policy_store import load_stored_policy

log = logging.getLogger(__name__)

Origin = Literal["given", "stored", "none"]


@dataclass(frozen=True)
class Access:
    """A resolved caller: role, its tag set (None = unrestricted), and the policy used."""

    role: str | None
    allowed: frozenset[str] | None
    policy_sha256: str | None
    origin: Origin


PolicyArg = Path | str | Policy | None


def given_policy(settings: Settings, policy: PolicyArg = None) -> Policy | None:
    """The policy given explicitly (argument: a file or a loaded Policy, else
    NETDOCS_POLICY), loaded; or None."""
    if isinstance(policy, Policy):
        return policy
    path = Path(policy) if policy is not None else settings.policy
    return load_policy(path) if path is not None else None


def role_tags(policy: Policy | None, role: str | None) -> frozenset[str] | None:
    """The tags ``role`` may see under ``policy`` (None = unrestricted); fails closed."""
    if policy is None:
        if role is not None:
            raise AccessDenied(
                f"role {role!r} given but there is no access policy: none given "
                "(--policy / NETDOCS_POLICY) and none stored in the index; ingest with "
                "--policy FILE, or pass the policy"
            )
        return None
    return policy.allowed_tags(role)


def effective_policy(
    conn: psycopg.Connection, settings: Settings, policy: PolicyArg = None
) -> tuple[Policy | None, Origin]:
    """The policy queries resolve against: the given one, else the stored one, else None."""
    given = given_policy(settings, policy)
    stored = load_stored_policy(conn)
    if given is not None:
        if stored is not None and stored.sha256 != given.sha256:
            log.warning(
                "the policy given (%s) differs from the one the index was built with "
                "(stored %s from %s): a role must be in both and sees only the tags both "
                "allow until an ingest stores the given one",
                given.source,
                f"{stored.stored_at:%Y-%m-%d %H:%M}",
                stored.source,
            )
            return in_force(given, stored.policy(), True), "given"
        if stored is not None:
            return given, "given"
        # No stored policy: the documents' tags are their front matter as written (or
        # there are none). A role checked against those would let authors grant access.
        return in_force(given, None, _has_documents(conn)), "given"
    if stored is not None:
        return stored.policy(), "stored"
    return None, "none"


def _has_documents(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone()
    return bool(row and row[0])


def resolve_access(
    conn: psycopg.Connection,
    settings: Settings,
    role: str | None = None,
    policy: PolicyArg = None,
) -> Access:
    """Resolve ``role`` (default NETDOCS_ROLE) against the effective policy.

    Raises ``AccessDenied`` for an unknown role, a missing role under a policy, or a role
    with no policy at all; ``ConfigError`` for an unreadable policy (given or stored).
    """
    role = role if role is not None else settings.role
    resolved, origin = effective_policy(conn, settings, policy)
    allowed = role_tags(resolved, role)
    return Access(role, allowed, resolved.sha256 if resolved else None, origin)
