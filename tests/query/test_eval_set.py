"""The retrieval evaluation set is well formed (and its sources exist when the corpus does)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "network-docs"


def _load_module():  # eval/ is a folder of scripts, not a package
    spec = importlib.util.spec_from_file_location("run_eval", REPO / "eval" / "run_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_questions_are_well_formed() -> None:
    run_eval = _load_module()
    questions, unanswerable = run_eval.load(REPO / "eval" / "questions.yaml")
    assert len(questions) >= 30 and len(unanswerable) >= 5
    assert len({q.id for q in questions}) == len(questions)
    assert all(q.text.endswith("?") and q.sources for q in questions)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not next to the repo")
def test_every_source_exists_in_the_corpus() -> None:
    run_eval = _load_module()
    questions, _ = run_eval.load(REPO / "eval" / "questions.yaml")
    missing = [(q.id, s) for q in questions for s in q.sources if not (CORPUS / s).exists()]
    assert missing == []


def test_relevance_matches_files_and_folders() -> None:
    run_eval = _load_module()
    q = run_eval.Question("x", "?", ("a/b.md", "c/d"))
    assert q.relevant("a/b.md") and q.relevant("c/d/e.md")
    assert not q.relevant("a/b.mdx") and not q.relevant("c/de.md")
