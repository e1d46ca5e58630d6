"""Evaluation question sets (YAML): load, validate, and report bad entries by file and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The kinds of question reported separately; the first three are scored for recall.
CATEGORIES = ("exact", "paraphrase", "multi-file", "unanswerable")
UNANSWERABLE = "unanswerable"


class EvalSetError(ValueError):
    """A question set that cannot be read at all (missing file, invalid YAML, wrong shape)."""


@dataclass(frozen=True)
class Question:
    """One evaluation question, its category and the files (or folders) that answer it."""

    id: str
    text: str
    sources: tuple[str, ...]
    category: str = "exact"

    @property
    def answerable(self) -> bool:
        """False for questions the corpus does not answer (scored by refusal, not recall)."""
        return self.category != UNANSWERABLE

    def relevant(self, path: str) -> bool:
        """True when ``path`` is a source file or lies under a source folder."""
        return any(path == s or path.startswith(s.rstrip("/") + "/") for s in self.sources)


@dataclass(frozen=True)
class QuestionSet:
    """The questions of one file; ``errors`` name the entries skipped and why."""

    name: str
    path: Path
    questions: tuple[Question, ...]
    errors: tuple[str, ...] = ()

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]

    @property
    def unanswerable(self) -> list[Question]:
        return [q for q in self.questions if not q.answerable]


def _question(entry: Any, where: str) -> Question:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping with id, question, sources, category")
    qid, text = entry.get("id"), entry.get("question")
    if not isinstance(qid, str) or not qid:
        raise ValueError(f"{where}: field 'id' must be a non-empty string")
    where = f"{where} (id {qid})"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: field 'question' must be a non-empty string")
    category = entry.get("category")
    if category not in CATEGORIES:
        raise ValueError(f"{where}: field 'category' must be one of {', '.join(CATEGORIES)}")
    sources = entry.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise ValueError(f"{where}: field 'sources' must be a list of paths")
    if category == UNANSWERABLE and sources:
        raise ValueError(f"{where}: an unanswerable question has no 'sources'")
    if category != UNANSWERABLE and not sources:
        raise ValueError(f"{where}: field 'sources' is empty (category {category})")
    return Question(qid, text.strip(), tuple(sources), category)


def _unanswerable(entry: Any, n: int, where: str) -> Question:
    if isinstance(entry, str) and entry.strip():
        return Question(f"unanswerable-{n}", entry.strip(), (), UNANSWERABLE)
    if isinstance(entry, dict):
        return _question({"id": f"unanswerable-{n}", "category": UNANSWERABLE, **entry}, where)
    raise ValueError(f"{where}: expected the question text")


def load_set(path: Path, name: str | None = None) -> QuestionSet:
    """Read ``path``: ``questions`` (each with a ``category``) and ``unanswerable`` (texts or
    mappings). Bad entries are skipped and named in ``errors``; the rest is kept."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalSetError(f"{path}: cannot read the question set: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise EvalSetError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions", []), list):
        raise EvalSetError(f"{path}: expected a mapping with a 'questions' list")
    out: list[Question] = []
    errors: list[str] = []
    for i, entry in enumerate(data.get("questions") or []):
        try:
            out.append(_question(entry, f"{path}: questions[{i}]"))
        except ValueError as e:
            errors.append(str(e))
    for i, entry in enumerate(data.get("unanswerable") or []):
        try:
            out.append(_unanswerable(entry, i + 1, f"{path}: unanswerable[{i}]"))
        except ValueError as e:
            errors.append(str(e))
    seen: set[str] = set()
    unique: list[Question] = []
    for q in out:
        if q.id in seen:
            errors.append(f"{path}: id {q.id} is used twice; the later one is skipped")
            continue
        seen.add(q.id)
        unique.append(q)
    return QuestionSet(name or path.stem, path, tuple(unique), tuple(errors))
