"""`make demo`'s question, with the packaged model, on the whole bundled sample: the answer
cites the route-reflector-client passage first, results hold at most
NETDOCS_DIVERSITY_PER_DOC chunks of one document (distinct documents by default), and
`search --by document` lists files."""

from __future__ import annotations

import os

import psycopg
import pytest

from ..conftest import SAMPLE, SAMPLE_TAGS
from .conftest import run_cli

QUESTION = "How do I configure a BGP route reflector?"
ROLE = ("--role", "network_engineer", "--policy", str(SAMPLE_TAGS))
FILE = "routing/frr/bgp/route-reflector.md"
# The passage, as the document words it (read from the file, not from results): the
# sentence that introduces a route-reflector client and the command that configures one.
INTRO = "A route reflector client is configured with:"
COMMAND = "`neighbor PEER route-reflector-client`"


def chunk_text(url: str, chunk_id: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT text FROM chunks WHERE chunk_id = %s", (chunk_id,)).fetchone()
    assert row is not None, chunk_id
    return str(row[0])


@pytest.mark.real_model
def test_demo_question_cites_the_route_reflector_client_passage_first(
    db_url: str, prefect_harness: None
) -> None:
    from flows.ingest import ingest

    text = (SAMPLE / FILE).read_text(encoding="utf-8")
    assert INTRO in text and COMMAND in text  # the passage exists as quoted
    assert not ingest(path=str(SAMPLE), policy=str(SAMPLE_TAGS))["failed"]
    env = {
        **os.environ,
        "NETDOCS_DATABASE_URL": db_url,
        "NETDOCS_EMBEDDING_PROVIDER": "local",
        "NETDOCS_LLM_PROVIDER": "none",
    }
    env.pop("NETDOCS_DIVERSITY_PER_DOC", None)  # the default, as `make demo` runs it

    asked = run_cli(env, "ask", QUESTION, *ROLE, "--json")
    assert asked.code == 0, asked.stderr
    first = asked.json()["citations"][0]
    assert first["path"] == FILE
    cited = chunk_text(db_url, first["chunk_id"])
    assert INTRO in cited and COMMAND in cited

    # Diversity: distinct documents by default, at most 2 chunks of one with the setting at
    # 2; off, the same file fills the top 3 (the setting is part of the query cache key: no
    # stale answer across settings).
    found = run_cli(env, "search", QUESTION, *ROLE, "--json")
    paths = [r["path"] for r in found.json()["results"]]
    assert paths[0] == FILE and len(set(paths)) == len(paths) == 5
    two = run_cli({**env, "NETDOCS_DIVERSITY_PER_DOC": "2"}, "search", QUESTION, *ROLE, "--json")
    assert not two.json()["cache_hit"]
    two_paths = [r["path"] for r in two.json()["results"]]
    assert two_paths[0] == FILE and two_paths.count(FILE) == 2 and len(two_paths) == 5
    off = run_cli({**env, "NETDOCS_DIVERSITY_PER_DOC": "0"}, "search", QUESTION, *ROLE, "--json")
    assert not off.json()["cache_hit"]
    assert [r["path"] for r in off.json()["results"]].count(FILE) == 3

    by_doc = run_cli(env, "search", QUESTION, *ROLE, "--by", "document", "--json")
    assert by_doc.code == 0, by_doc.stderr
    docs = by_doc.json()["results"]
    assert docs[0]["path"] == FILE and docs[0]["chunks"] >= 3
    assert len({d["path"] for d in docs}) == len(docs) == 5
    assert chunk_text(db_url, docs[0]["chunk_id"]) == cited  # its best chunk
