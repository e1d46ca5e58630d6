"""The bundled sample ingested through the real flow, with a copy of examples/tags.yaml
that adds ``secops``: a second role with exactly security_engineer's tags."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from ..conftest import REPO

SAMPLE = REPO / "examples" / "sample-docs"
TAGS_YAML = REPO / "examples" / "tags.yaml"


def write_policy(dest: Path, vpn_tags: list[str] | None = None) -> Path:
    """tags.yaml + role secops (= security_engineer); ``vpn_tags`` re-tags ``vpn/**``."""
    data: dict[str, Any] = yaml.safe_load(TAGS_YAML.read_text())
    data["roles"]["secops"] = {"allow": list(data["roles"]["security_engineer"]["allow"])}
    if vpn_tags is not None:
        for rule in data["rules"]:
            if rule["glob"] == "vpn/**":
                rule["tags"] = vpn_tags
    dest.write_text(yaml.safe_dump(data))
    return dest


def role_tags(policy: Path) -> dict[str, frozenset[str] | None]:
    """Each role's allowed tags, read from the YAML by the test (None = everything)."""
    data = yaml.safe_load(policy.read_text())
    out: dict[str, frozenset[str] | None] = {}
    for role, spec in data["roles"].items():
        allow = spec["allow"]
        out[role] = None if "*" in allow else frozenset(allow)
    return out


def ingest(docs: Path, policy: Path) -> dict[str, Any]:
    """One run of the real ingest flow."""
    from flows.ingest import ingest as flow

    return flow(path=str(docs), policy=str(policy))


def sample_index(tmp_path: Path) -> tuple[Path, Path]:
    """Copy the sample, write the policy, ingest; returns (docs folder, policy file)."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    policy = write_policy(tmp_path / "tags.yaml")
    result = ingest(docs, policy)
    assert result["new"] == result["scanned"] == 43 and not result["failed"]
    return docs, policy
