"""The question sets are well formed, and bad entries are named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdocs.evaluation.questions import CATEGORIES, EvalSetError, Question, load_set

from ..conftest import REPO, SAMPLE

EVAL = REPO / "eval"
SHARED = REPO.parent / "shared" / "corpora" / "network-docs"
SETS = ["questions.yaml", "heldout.yaml", "sample.yaml", "heldout-paraphrase.yaml"]


@pytest.mark.parametrize("name", SETS)
def test_set_is_well_formed(name: str) -> None:
    path = EVAL / name
    assert path.is_file(), f"{path}: the question set is missing"
    qset = load_set(path)
    assert qset.errors == ()
    assert len(qset.answerable) >= 20
    assert all(q.text.endswith("?") for q in qset.questions)
    assert {q.category for q in qset.questions} <= set(CATEGORIES)


def test_sample_set_mixes_categories_and_its_sources_exist() -> None:
    qset = load_set(EVAL / "sample.yaml")
    counts = {c: sum(q.category == c for q in qset.questions) for c in CATEGORIES}
    assert min(counts.values()) >= 5, counts
    missing = [(q.id, s) for q in qset.questions for s in q.sources if not (SAMPLE / s).exists()]
    assert missing == []
    assert all(len(q.sources) >= 2 for q in qset.questions if q.category == "multi-file")


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared corpus is not next to the repo")
@pytest.mark.parametrize("name", ["questions.yaml", "heldout.yaml"])
def test_every_source_exists_in_the_shared_corpus(name: str) -> None:
    qset = load_set(EVAL / name)
    missing = [(q.id, s) for q in qset.questions for s in q.sources if not (SHARED / s).exists()]
    assert missing == []


def test_relevance_matches_files_and_folders() -> None:
    q = Question("x", "?", ("a/b.md", "c/d"))
    assert q.relevant("a/b.md") and q.relevant("c/d/e.md")
    assert not q.relevant("a/b.mdx") and not q.relevant("c/de.md")


def test_bad_entries_are_named_and_the_rest_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        "questions:\n"
        "  - {id: good, question: 'Fine?', sources: [a.md], category: exact}\n"
        "  - {id: nocat, question: 'No category?', sources: [a.md]}\n"
        "  - {id: nosrc, question: 'No source?', sources: [], category: paraphrase}\n"
        "  - {id: good, question: 'Again?', sources: [b.md], category: exact}\n"
        "unanswerable:\n"
        "  - Off topic?\n"
        "  - {question: 'Mapped off topic?'}\n"
        "  - 42\n"
    )
    qset = load_set(path)
    assert [q.id for q in qset.questions] == ["good", "unanswerable-1", "unanswerable-2"]
    assert [q.category for q in qset.unanswerable] == ["unanswerable", "unanswerable"]
    errors = "\n".join(qset.errors)
    assert f"{path}: questions[1] (id nocat): field 'category'" in errors
    assert "questions[2] (id nosrc): field 'sources' is empty" in errors
    assert "id good is used twice" in errors
    assert "unanswerable[2]" in errors and len(qset.errors) == 4


def test_unreadable_set_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match="missing.yaml"):
        load_set(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions: [\n")
    with pytest.raises(EvalSetError, match="bad.yaml: invalid YAML"):
        load_set(bad)
