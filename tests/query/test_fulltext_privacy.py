"""A restricted role's full-text scores say nothing about chunks it may not see (real
PostgreSQL + Prefect harness): the IDF weights are counted over the whole table, so a raw
weighted score would tell how many hidden chunks hold a word."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ..conftest import use_db

pytestmark = pytest.mark.usefixtures("prefect_harness")

POLICY = """roles:
  hd: {allow: [faq]}
  admin: {allow: ['*']}
rules:
  - glob: 'secret/**'
    tags: [internal]
  - glob: '**'
    tags: [faq]
"""


def build(root: Path, hidden_with_word: int, policy: Path) -> None:
    """A public FAQ page holding 'acquisition', 40 hidden pages, ``hidden_with_word`` of
    them holding it too, ingested and analysed."""
    from flows.ingest import ingest

    (root / "secret").mkdir(parents=True)
    (root / "faq.md").write_text("# Merger FAQ\n\nThe acquisition closes in May.\n")
    for i in range(40):
        word = "acquisition" if i < hidden_with_word else "budget"
        body = f"Project {i} plan: the {word} review of ledger {i} happens weekly."
        (root / "secret" / f"p{i}.md").write_text(f"# Plan {i}\n\n{body}\n")
    assert ingest(path=str(root), policy=str(policy))["failed"] == []


def helpdesk_view(url: str, policy: Path, mode: str) -> list[tuple[str, float]]:
    from netdocs.query.service import SearchService

    use_db(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE chunks")  # the lexeme statistics the weights come from
    with SearchService.for_role("hd", policy) as service:
        hits = service.search("acquisition", k=5, mode=mode)  # type: ignore[arg-type]
    return [(h.path, h.score) for h in hits]


@pytest.mark.parametrize("mode", ["fulltext", "fused"])
def test_hidden_chunks_do_not_change_a_restricted_roles_scores(
    tmp_path: Path, make_db, mode: str
) -> None:
    policy = tmp_path / "tags.yaml"
    policy.write_text(POLICY)
    views = []
    for n in (0, 30):
        url = make_db()
        use_db(url)
        build(tmp_path / f"docs{n}", n, policy)
        views.append(helpdesk_view(url, policy, mode))
    assert views[0] and views[0][0][0] == "faq.md"
    assert views[0] == views[1]
