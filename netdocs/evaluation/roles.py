"""Which sources a role may see, from the policy file's rules (independent of the SQL filter)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netdocs.evaluation.questions import Question
from netdocs.policy import Policy, visible

#: The name reported for searches without a role (no tag filter).
UNRESTRICTED = "(unrestricted)"


@dataclass(frozen=True)
class RoleView:
    """A role under a policy; ``role`` None = unrestricted.

    Visibility uses the policy's path rules only (front-matter tags are not known here), so
    on a corpus whose front matter adds tags a legitimate hit may be reported as a leak."""

    role: str | None
    policy: Policy | None

    @property
    def name(self) -> str:
        return self.role or UNRESTRICTED

    @property
    def allowed(self) -> frozenset[str] | None:
        if self.role is None or self.policy is None:
            return None
        return self.policy.allowed_tags(self.role)

    def sees(self, path: str) -> bool:
        """May this role see ``path`` (a file, or a folder given without ``.md``)?"""
        allowed = self.allowed
        if allowed is None or self.policy is None:
            return True
        probe = path if path.endswith((".md", ".markdown", ".txt")) else path.rstrip("/") + "/x.md"
        return visible(self.policy.tags_for(probe), allowed)

    def visible_sources(self, q: Question) -> tuple[str, ...]:
        return tuple(s for s in q.sources if self.sees(s))

    def leaks(self, paths: Sequence[str]) -> tuple[str, ...]:
        """The retrieved paths this role may not see."""
        return tuple(p for p in paths if not self.sees(p))


def role_views(spec: str, policy: Policy | None) -> list[RoleView]:
    """``all``: unrestricted plus every role of the policy; ``none``: unrestricted only;
    else a comma-separated list of role names (``unrestricted`` = no role). Unknown role: an
    AccessDenied error naming the roles the policy defines."""
    if spec == "none":
        return [RoleView(None, policy)]
    if spec == "all":
        names = policy.role_names if policy is not None else []
        return [RoleView(None, policy)] + [RoleView(r, policy) for r in names]
    views = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        view = RoleView(None if name == "unrestricted" else name, policy)
        if view.role is not None:
            if policy is None:
                from netdocs.errors import AccessDenied

                raise AccessDenied(f"role {name!r} given but there is no access policy")
            policy.allowed_tags(view.role)  # unknown role -> AccessDenied
        views.append(view)
    return views
