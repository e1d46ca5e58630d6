"""The bundled sample ingested through the real flow (once a session, then copied), with a
copy of examples/tags.yaml that adds ``secops``: a second role with exactly
security_engineer's tags."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import psycopg
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


#: The database the first :func:`sample_index` of the session ingested into, copied as a
#: template (the session server is removed at the end, with it).
_TEMPLATE: list[str] = []


def _replace_with_copy(url: str, template: str) -> None:
    """Make ``url``'s database a copy of database ``template`` (same name, so the test's
    ``db_url`` stays valid and is still dropped by ``make_db``)."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")


def _keep_as_template(url: str) -> None:

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    template = f"t_sample_{uuid.uuid4().hex[:10]}"
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(  # a copy needs a source nobody is connected to
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f"CREATE DATABASE {template} TEMPLATE {name}")
    _TEMPLATE.append(template)


def sample_index(tmp_path: Path) -> tuple[Path, Path]:
    """Copy the sample, write the policy, ingest; returns (docs folder, policy file).

    The first call of the session runs the real flow into the test's database
    (NETDOCS_DATABASE_URL) and keeps a copy; later calls make the test's database a copy of
    that one (the same 43 documents under the same policy, without another ingest)."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    policy = write_policy(tmp_path / "tags.yaml")
    url = os.environ["NETDOCS_DATABASE_URL"]
    if _TEMPLATE:
        _replace_with_copy(url, _TEMPLATE[0])
        return docs, policy
    result = ingest(docs, policy)
    assert result["new"] == result["scanned"] == 43 and not result["failed"]
    _keep_as_template(url)
    return docs, policy
