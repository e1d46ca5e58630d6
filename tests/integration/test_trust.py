"""Issue 9, items 2-4, as an attacker would try them, on real PostgreSQL + Prefect (harness):
stale versions (emptied, unreadable + re-tagged, withdrawn after the maximum age), the
stored policy (roles fail closed without --policy), and front matter widening access."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from netdocs.cli import main
from netdocs.config import get_settings

from ..conftest import REPO, use_db

pytestmark = pytest.mark.usefixtures("prefect_harness")

TAGS = REPO / "examples" / "tags.yaml"
ROLES = "admin, helpdesk, network_engineer, security_engineer"
BFD = "routing/frr/bfd.md"
CHAINS = "firewall/nftables/nft/chains.md"
DATA_TYPES = "firewall/nftables/nft/data-types.md"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """The bundled sample, copied."""
    import shutil

    return Path(shutil.copytree(REPO / "examples" / "sample-docs", tmp_path / "docs"))


@pytest.fixture(autouse=True)
def _no_policy_in_env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[None]:
    for var in ("NETDOCS_POLICY", "NETDOCS_ROLE", "NETDOCS_STALE_MAX_AGE"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def ingest(docs: Path, policy: Path | None = None) -> dict[str, Any]:
    from flows.ingest import ingest as flow

    return flow(path=str(docs), policy=str(policy) if policy else None)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """The CLI in-process: (exit code, stdout parsed as JSON when there is some, stderr)."""
    get_settings.cache_clear()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def paths(capsys: pytest.CaptureFixture[str], query: str, *extra: str) -> set[str]:
    code, out, err = cli(capsys, "search", query, "--json", "--k", "50", *extra)
    assert code == 0, err
    return {r["path"] for r in out["results"]}


def policy_copy(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(TAGS.read_text())
    edit(data)
    out = tmp_path / name
    out.write_text(yaml.safe_dump(data))
    return out


def sql(url: str, stmt: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(stmt, params)
        return cur.fetchall() if cur.description else []


# ---- the oracle for helpdesk: the YAML read with a few lines of our own ----------------


def _glob_regex(glob: str) -> re.Pattern[str]:
    pattern = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    return re.compile(pattern.replace(r"\*", "[^/]*") + r"\Z")


def allowed_paths(root: Path, role: str) -> set[str]:
    data = yaml.safe_load(TAGS.read_text())
    allow = set(data["roles"][role]["allow"])
    out = set()
    for f in root.rglob("*.md"):
        rel = f.relative_to(root).as_posix()
        tags = next(r["tags"] for r in data["rules"] if _glob_regex(r["glob"]).match(rel))
        if allow & set(tags):
            out.add(rel)
    return out


QUESTIONS = [
    "how do I add a BGP neighbor",
    "nftables base chain hook priority",
    "WireGuard private key and peers",
    "chrony is not synchronising",
    "BFD peer detection timers",
    "DNSSEC key rollover security",
    "DHCP lease query hooks",
    "troubleshooting with nstat counters",
]


# ---- item 2: no stale versions ---------------------------------------------------------


def test_an_emptied_document_leaves_the_results(docs: Path, db_url: str, capsys) -> None:
    ingest(docs, TAGS)
    question = "base chain hook priority rules jump target"
    assert CHAINS in paths(capsys, question, "--role", "admin")
    (docs / CHAINS).write_text("\n")
    result = ingest(docs)
    for mode in ("fused", "dense", "fulltext"):
        assert CHAINS not in paths(capsys, question, "--role", "admin", "--mode", mode)
    assert result["changed"] == 1 and not result["failed"]
    # No --policy: the stored one still gives the tags (nothing re-tagged, nothing opened up).
    assert result["metadata_only"] == 0
    assert any("policy stored in the index" in m for m in result["messages"])
    assert sql(db_url, "SELECT count(*) FROM chunks WHERE doc_id = %s", CHAINS) == [(0,)]
    code, report, _ = cli(capsys, "check", "--json")  # no chunks is not drift
    assert code == 0 and report["drift"] == [] and report["stale"] == []


def test_unreadable_document_follows_the_policy_is_listed_and_withdrawn(
    docs: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    from prefect.artifacts import Artifact

    ingest(docs, TAGS)
    question = "bfdd BFD peers detection"
    assert BFD in paths(capsys, question, "--role", "network_engineer")

    (docs / BFD).write_bytes((docs / BFD).read_bytes() + b"caf\xe9\n")  # one Latin-1 byte
    retag = policy_copy(
        tmp_path,
        "retag.yaml",
        lambda d: d["rules"].insert(0, {"glob": BFD, "tags": ["security_policies"]}),
    )
    result = ingest(docs, retag)
    assert [f["path"] for f in result["failed"]] == [BFD]
    [stale] = result["stale"]
    assert stale["path"] == BFD and "UTF-8" in stale["reason"] and stale["since"]
    assert stale["withdrawn"] is False
    artifact = Artifact.get("ingest-summary")
    assert artifact is not None and "Served from an older version" in str(artifact.data)
    assert f"| {BFD} | invalid UTF-8" in str(artifact.data)  # a row of the stale table

    # Tags follow the current policy although the content could not be read.
    tags = sql(db_url, "SELECT DISTINCT tags FROM chunks WHERE doc_id = %s", BFD)
    assert tags == [(["security_policies"],)]
    assert BFD not in paths(capsys, question, "--role", "network_engineer")
    assert BFD in paths(capsys, question, "--role", "security_engineer")  # old text, new tags

    for command in ("status", "check"):
        code, out, _ = cli(capsys, command, "--json")
        assert code == 0
        assert [(s["path"], s["since"], s["withdrawn"]) for s in out["stale"]] == [
            (BFD, stale["since"], False)
        ]
        assert "UTF-8" in out["stale"][0]["reason"]

    # Eight days later (default maximum age: 7 days) it is withdrawn for every role.
    for table in ("documents", "chunks"):
        sql(
            db_url,
            f"UPDATE {table} SET stale_since = stale_since - interval '8 days' WHERE doc_id = %s",
            BFD,
        )
    for role in ("security_engineer", "admin"):
        assert BFD not in paths(capsys, question, "--role", role)
    code, out, _ = cli(capsys, "status", "--json")
    assert [(s["path"], s["withdrawn"]) for s in out["stale"]] == [(BFD, True)]
    again = ingest(docs, retag)  # still unreadable: still stale since the first run
    assert [(s["path"], s["withdrawn"]) for s in again["stale"]] == [(BFD, True)]
    assert again["stale"][0]["since"] < stale["since"]

    (docs / BFD).write_bytes((REPO / "examples" / "sample-docs" / BFD).read_bytes())
    fixed = ingest(docs, retag)  # readable again: a fresh version, served again
    assert fixed["stale"] == [] and not fixed["failed"]
    assert BFD in paths(capsys, question, "--role", "security_engineer")


def test_stale_max_age_setting(docs: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(docs, TAGS)
    question = "bfdd BFD peers detection"
    (docs / BFD).write_bytes(b"\xff" * 10)
    ingest(docs)
    assert BFD in paths(capsys, question, "--role", "admin")  # stale, still served
    monkeypatch.setenv("NETDOCS_STALE_MAX_AGE", "0s")
    assert BFD not in paths(capsys, question, "--role", "admin")
    code, out, _ = cli(capsys, "check", "--json")
    assert code == 0 and [(s["path"], s["withdrawn"]) for s in out["stale"]] == [(BFD, True)]
    for command in ("status", "check"):  # the text output names it too
        get_settings.cache_clear()
        assert main([command]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if BFD in x)
        assert line.startswith(f"WITHDRAWN {BFD}: older version served since ") and "UTF-8" in line


# ---- item 3: fail closed with the stored policy ----------------------------------------


def test_roles_resolve_against_the_stored_policy(
    docs: Path, db_url: str, make_db: Callable[[], str], capsys
) -> None:
    from netdocs import query_engine
    from netdocs.errors import AccessDenied

    ingest(docs, TAGS)
    allowed = allowed_paths(docs, "helpdesk")
    assert 5 < len(allowed) < 30
    seen: set[str] = set()
    for question in QUESTIONS:
        for mode in ("fused", "dense", "fulltext"):
            found = paths(capsys, question, "--role", "helpdesk", "--mode", mode)
            assert found <= allowed, (question, mode, found - allowed)
            seen |= found
    assert len(seen) >= 5
    assert paths(capsys, "WireGuard private key", "--role", "admin") - allowed  # not vacuous

    qe = query_engine(role="helpdesk", chat=None)
    try:
        for question in QUESTIONS:
            response = qe.query(question)
            assert {r["path"] for r in response.metadata["retrieved"]} <= allowed
    finally:
        qe.close()
    with pytest.raises(AccessDenied, match="helpdesk"):
        query_engine(role="intern")

    for args in (["--role", "intern"], []):  # unknown role; no role under a stored policy
        code, out, err = cli(capsys, "search", "BGP", "--json", *args)
        assert code == 2 and out is None and ROLES in err
        assert "the policy the policy" not in err  # the stored policy is named once
        code, out, err = cli(capsys, "ask", "BGP", "--json", *args)
        assert code == 2 and out is None and ROLES in err

    env = {k: v for k, v in os.environ.items() if k not in ("NETDOCS_POLICY", "NETDOCS_ROLE")}
    for role, expected in (("helpdesk", 0), ("intern", 2)):
        proc = subprocess.run(
            [sys.executable, "-m", "netdocs.cli", "search", "BGP neighbor", "--json"]
            + ["--k", "50", "--role", role],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == expected, proc.stderr
        if expected == 0:
            assert {r["path"] for r in json.loads(proc.stdout)["results"]} <= allowed
        else:
            assert proc.stdout == "" and ROLES in proc.stderr

    use_db(make_db())  # an index built with no policy at all
    ingest(docs)
    code, out, err = cli(capsys, "search", "BGP", "--json", "--role", "helpdesk")
    assert code == 2 and out is None and "no access policy" in err
    code, out, _ = cli(capsys, "search", "BGP", "--json")  # no role, no policy: no roles exist
    assert code == 0 and out["results"]


# ---- item 4: front matter cannot widen access ------------------------------------------


def test_front_matter_cannot_widen_access_unless_allowed(
    docs: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    target = docs / DATA_TYPES
    target.write_text("---\ntags: [faq]\n---\n" + target.read_text())
    question = "conntrack state datatype nft describe"
    result = ingest(docs, TAGS)
    assert DATA_TYPES not in paths(capsys, question, "--role", "helpdesk")
    warnings = [m for m in result["messages"] if DATA_TYPES in m]
    assert len(warnings) == 1 and "faq" in warnings[0] and "ignored" in warnings[0]
    assert DATA_TYPES in paths(capsys, question, "--role", "security_engineer")
    tags = sql(db_url, "SELECT tags FROM documents WHERE doc_id = %s", DATA_TYPES)
    assert tags == [(["firewall_rules", "security_policies"],)]

    widening = policy_copy(tmp_path, "fm.yaml", lambda d: d.update(front_matter_tags=["faq"]))
    allowed = ingest(docs, widening)
    assert allowed["metadata_only"] == 1 and allowed["chunks_embedded"] == 0
    assert not [m for m in allowed["messages"] if DATA_TYPES in m]
    assert DATA_TYPES in paths(capsys, question, "--role", "helpdesk")


def test_a_quarantined_version_keeps_the_old_one_listed_stale(docs: Path, capsys) -> None:
    ingest(docs, TAGS)
    question = "bfdd BFD peers detection"
    (docs / BFD).write_text((docs / BFD).read_text() + "\nthe bell \x07 rings\n")
    result = ingest(docs)
    assert result["quarantined"] == 1
    assert [(s["path"], s["withdrawn"]) for s in result["stale"]] == [(BFD, False)]
    assert "quarantined" in result["stale"][0]["reason"]
    assert BFD in paths(capsys, question, "--role", "network_engineer")  # the old version
    again = ingest(docs)  # still quarantined as it is: still stale, same since
    assert [s["since"] for s in again["stale"]] == [result["stale"][0]["since"]]
