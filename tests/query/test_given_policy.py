"""A policy given to the library or CLI (``--policy`` / NETDOCS_POLICY) that differs from the
one the index stores is narrowed to what both grant, as `netdocs serve` does: the chunks'
tags follow the stored policy until an ingest stores the new one (real PostgreSQL, the
bundled sample ingested by the real flow under ``examples/tags.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdocs.errors import AccessDenied

from ..conftest import SAMPLE, SAMPLE_TAGS, use_db

FIREWALL = SAMPLE / "firewall" / "nftables" / "nft" / "chains.md"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = SAMPLE_TAGS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "edited-tags.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _paths(role: str, policy: Path, query: str) -> set[str]:
    from netdocs.query.service import SearchService

    with SearchService.for_role(role, policy) as service:
        return {h.path for h in service.search(query, k=20, mode="fulltext")}


def test_a_widened_or_new_role_waits_for_an_ingest(sample_db: str, tmp_path: Path) -> None:
    use_db(sample_db)
    words = " ".join(FIREWALL.read_text(encoding="utf-8").split()[5:25])
    assert any(p.startswith("firewall/") for p in _paths("security_engineer", SAMPLE_TAGS, words))
    wider = _edited(
        tmp_path,
        "  helpdesk:\n    allow: [faq, troubleshooting_guides]",
        "  helpdesk:\n    allow: [faq, troubleshooting_guides, firewall_rules]\n"
        "  intern:\n    allow: ['*']",
    )
    assert not any(p.startswith("firewall/") for p in _paths("helpdesk", wider, words))
    with pytest.raises(AccessDenied):
        _paths("intern", wider, words)


def test_a_narrowed_role_applies_at_once(sample_db: str, tmp_path: Path) -> None:
    use_db(sample_db)
    query = " ".join((SAMPLE / "troubleshooting" / "tools" / "nstat.md").read_text().split()[5:25])
    assert any(p.startswith("troubleshooting/") for p in _paths("helpdesk", SAMPLE_TAGS, query))
    narrower = _edited(
        tmp_path,
        "  helpdesk:\n    allow: [faq, troubleshooting_guides]",
        "  helpdesk:\n    allow: [faq]",
    )
    assert not any(p.startswith("troubleshooting/") for p in _paths("helpdesk", narrower, query))


def test_a_long_lived_service_follows_a_policy_stored_after_it_was_made(
    sample_db: str, tmp_path: Path
) -> None:
    """A notebook's or a LlamaIndex engine's service lives across ingests. A policy stored
    since it was made (helpdesk narrowed to faq) applies to its next query, cached results
    included; a role the new policy drops is refused, not served by the old grants."""
    import psycopg

    from netdocs.policy import load_policy
    from netdocs.query.api import run_search
    from netdocs.query.service import SearchService
    from netdocs.store.policy_store import store_policy

    use_db(sample_db)
    query = " ".join((SAMPLE / "troubleshooting" / "tools" / "nstat.md").read_text().split()[5:25])
    narrower = load_policy(  # loaded now: _edited writes one file name
        _edited(
            tmp_path,
            "  helpdesk:\n    allow: [faq, troubleshooting_guides]",
            "  helpdesk:\n    allow: [faq]",
        )
    )
    gone = load_policy(
        _edited(tmp_path, "  helpdesk:\n    allow: [faq, troubleshooting_guides]", "")
    )

    def troubleshooting(service: SearchService) -> tuple[bool, bool]:
        result = run_search(service, query, k=20, mode="fulltext")
        return any(h.path.startswith("troubleshooting/") for h in result.hits), result.cache_hit

    with SearchService.for_role("helpdesk") as service, psycopg.connect(sample_db) as conn:
        try:
            assert troubleshooting(service) == (True, False)
            assert troubleshooting(service) == (True, True)
            store_policy(conn, narrower, None)
            conn.commit()
            assert troubleshooting(service) == (False, False)
            store_policy(conn, gone, None)
            conn.commit()
            with pytest.raises(AccessDenied):
                troubleshooting(service)
        finally:
            store_policy(conn, load_policy(SAMPLE_TAGS), None)
            conn.commit()
