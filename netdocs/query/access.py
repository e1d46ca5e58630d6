"""The caller's effective tag set: role (argument or NETDOCS_ROLE) + policy -> allowed tags."""

from __future__ import annotations

import logging
from pathlib import Path

from netdocs.config import Settings
from netdocs.policy import load_policy

log = logging.getLogger(__name__)


def allowed_tags(
    settings: Settings, role: str | None = None, policy: Path | str | None = None
) -> frozenset[str] | None:
    """The tags ``role`` may see; None means everything is visible.

    ``role`` defaults to ``NETDOCS_ROLE``, ``policy`` to ``NETDOCS_POLICY``. With a policy,
    an unknown or missing role raises ``AccessDenied`` naming the roles that exist; without
    one, every chunk is visible (whatever the role).
    """
    role = role if role is not None else settings.role
    path = Path(policy) if policy is not None else settings.policy
    if path is None:
        if role is not None:
            log.info("no access policy loaded: role %r sees every document", role)
        return None
    return load_policy(path).allowed_tags(role)
