"""The test suite's own reading of an access-policy YAML (examples/tags.yaml format), written
from its comments, to check the product's filter against: rules are tried top to bottom and
the first glob matching a path gives its tags (``*`` within a segment, ``**`` any number of
segments); a role sees a document when any of its tags is allowed (``"*"`` allows all)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


def _regex(glob: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


def load(path: Path) -> dict[str, Any]:
    """The policy file as plain data."""
    return dict(yaml.safe_load(path.read_text()))


def tags_of(policy: dict[str, Any], doc_path: str) -> set[str]:
    """The tags of the first rule whose glob matches ``doc_path`` (none if no rule does)."""
    for rule in policy["rules"]:
        if _regex(rule["glob"]).fullmatch(doc_path):
            return set(rule["tags"])
    return set()


def sees(policy: dict[str, Any], role: str, tags: set[str]) -> bool:
    """Whether ``role`` may read a document carrying ``tags``."""
    allow = set(policy["roles"][role]["allow"])
    return "*" in allow or bool(tags & allow)
