"""End to end with the packaged model users get (NETDOCS_EMBEDDING_PROVIDER=local): ingest a
small folder of the sample, search and ask from the CLI, and count what goes to the model
from the embedder itself: a one-paragraph edit sends exactly the changed chunks, and
front-matter or policy tag changes send nothing and keep every chunk id."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ..conftest import TAGS, copy_corpus
from .conftest import run_cli

QUESTION = "How do I configure a BGP route reflector?"
ANSWER_FILE = "routing/frr/bgp/route-reflector.md"
OLD = "To avoid single points of failure, multiple route reflectors can be configured."
NEW = "To avoid a single point of failure, configure two or more route reflectors per cluster."


class ModelSpy:
    """Wraps the process's local embedder: records every text sent to the model."""

    def __init__(self, embedder: Any) -> None:
        self.real = embedder.embed
        self.texts: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> Any:
        with self._lock:
            self.texts.extend(texts)
        return self.real(texts)

    def take(self) -> list[str]:
        """The texts sent since the last call."""
        with self._lock:
            out, self.texts = self.texts, []
        return out


def stored(url: str) -> dict[str, tuple[set[str], set[str]]]:
    """Per document: its stored chunk ids and the union of its chunks' tags."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    with psycopg.connect(url) as conn:
        for doc_id, chunk_id, tags in conn.execute("SELECT doc_id, chunk_id, tags FROM chunks"):
            ids, all_tags = out.setdefault(doc_id, (set(), set()))
            ids.add(chunk_id)
            all_tags.update(tags)
    return out


def embed_texts(docs: Path, doc_ids: Sequence[str], embedder: Any) -> dict[str, str]:
    """chunk id -> the exact text the model must see, computed from the files."""
    from netdocs.chunking import chunk_document
    from netdocs.config import get_settings

    limit = min(get_settings().chunk_max_tokens, embedder.max_tokens)
    count_tokens = embedder.count_tokens
    out = {}
    for doc_id in doc_ids:
        text = (docs / doc_id).read_text()
        for c in chunk_document(doc_id, text, count_tokens, limit):
            out[c.chunk_id] = c.embed_text
    return out


@pytest.mark.real_model
def test_packaged_model_end_to_end(
    tmp_path: Path, db_url: str, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.embedding.factory import get_embedder
    from netdocs.embedding.local import LocalEmbedder

    docs = copy_corpus(tmp_path / "docs", "routing/frr/bgp")
    doc_ids = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    embedder = get_embedder(get_settings())
    assert isinstance(embedder.real(), LocalEmbedder)  # the model users get, not the test one
    spy = ModelSpy(embedder)
    monkeypatch.setattr(embedder, "embed", spy)

    assert not ingest(path=str(docs), policy=str(TAGS))["failed"]
    expected = embed_texts(docs, doc_ids, embedder)
    sent = spy.take()
    assert sorted(sent) == sorted(set(expected.values()))  # each distinct chunk once
    before = stored(db_url)
    assert set().union(*(ids for ids, _ in before.values())) == set(expected)

    env = {
        **os.environ,
        "NETDOCS_DATABASE_URL": db_url,
        "NETDOCS_EMBEDDING_PROVIDER": "local",
        "NETDOCS_LLM_PROVIDER": "none",
    }
    role = ("--role", "network_engineer", "--policy", str(TAGS))
    found = run_cli(env, "search", QUESTION, *role, "--k", "3", "--json")
    assert found.code == 0, found.stderr
    assert found.json()["results"][0]["path"] == ANSWER_FILE
    asked = run_cli(env, "ask", QUESTION, *role, "--json")
    assert asked.code == 0, asked.stderr
    answer = asked.json()
    assert answer["answered"] and ANSWER_FILE in {c["path"] for c in answer["citations"]}

    # One paragraph edited: exactly the chunks whose text changed go to the model.
    target = docs / ANSWER_FILE
    assert OLD in target.read_text()
    target.write_text(target.read_text().replace(OLD, NEW))
    edited = embed_texts(docs, [ANSWER_FILE], embedder)
    new_ids = set(edited) - before[ANSWER_FILE][0]
    assert 1 <= len(new_ids) < len(edited)
    assert not ingest(path=str(docs), policy=str(TAGS))["failed"]
    assert sorted(spy.take()) == sorted(edited[c] for c in new_ids)
    after_edit = stored(db_url)
    assert after_edit[ANSWER_FILE][0] == set(edited)

    # Tags from front matter and from the policy change: no model call, same chunk ids.
    fm_doc, policy_doc = "routing/frr/bgp/displaying-bgp-information.md", doc_ids[0]
    assert policy_doc != fm_doc and "faq" not in after_edit[policy_doc][1]
    fm = docs / fm_doc
    fm.write_text("---\ntags: [troubleshooting_guides]\n---\n" + fm.read_text())
    policy = yaml.safe_load(TAGS.read_text())
    policy["rules"].insert(0, {"glob": policy_doc, "tags": ["faq"]})
    policy["front_matter_tags"] = ["troubleshooting_guides"]  # front matter may add only these
    new_policy = tmp_path / "policy.yaml"
    new_policy.write_text(yaml.safe_dump(policy))
    result = ingest(path=str(docs), policy=str(new_policy))
    assert not result["failed"]
    assert spy.take() == []
    after_tags = stored(db_url)
    assert {d: ids for d, (ids, _) in after_tags.items()} == {
        d: ids for d, (ids, _) in after_edit.items()
    }
    assert "troubleshooting_guides" in after_tags[fm_doc][1]
    assert after_tags[policy_doc][1] == {"faq"}
