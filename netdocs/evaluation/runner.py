"""Run a question set through the search service, per stage and per role."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from netdocs.embedding.base import Embedder
from netdocs.evaluation.llmstub import Recording, serve
from netdocs.evaluation.metrics import (
    MRR_AT,
    RECALL_AT,
    Outcome,
    Scores,
    aggregate,
    by_category,
    first_rank,
)
from netdocs.evaluation.questions import Question, QuestionSet
from netdocs.evaluation.retrieve import retrieve
from netdocs.evaluation.roles import RoleView, role_views
from netdocs.evaluation.stages import Stage, overrides
from netdocs.query.access import effective_policy
from netdocs.query.fallback import low_confidence
from netdocs.query.search import Mode
from netdocs.query.service import SearchService


class EmptyIndex(RuntimeError):
    """The configured index holds no documents."""


@dataclass
class RoleResult:
    """The outcomes of every question asked as one role."""

    role: str
    outcomes: list[Outcome]

    @property
    def scores(self) -> Scores:
        return aggregate(self.outcomes)

    @property
    def categories(self) -> dict[str, Scores]:
        return by_category(self.outcomes)


@dataclass
class StageResult:
    """One stage: ``unavailable`` says why it did not run; else a result per role."""

    name: str
    unavailable: str | None = None
    model: str | None = None
    roles: list[RoleResult] = field(default_factory=list)
    llm_calls: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.name, "available": self.unavailable is None}
        if self.unavailable:
            out["reason"] = self.unavailable
            return out
        out["model"] = self.model
        if self.llm_calls is not None:
            out["llm_calls"] = self.llm_calls
        out["roles"] = {
            r.role: {
                **r.scores.to_json(),
                "categories": {c: s.to_json() for c, s in r.categories.items()},
                "ranks": {o.qid: o.rank for o in r.outcomes if o.category != "unanswerable"},
            }
            for r in self.roles
        }
        return out


@dataclass(frozen=True)
class RunOptions:
    """What to run a set with (paths and injected resources are optional)."""

    roles: str = "all"
    policy: Path | None = None
    mode: Mode = "fused"
    model_home: Path | None = None  # NETDOCS_HOME of an index built with the +model model
    llm_recording: Path | None = None
    conn: psycopg.Connection | None = None  # tests: an open connection and embedder
    embedder: Embedder | None = None


def ask(svc: SearchService, view: RoleView, q: Question, vec: Any, mode: Mode) -> Outcome:
    """Search ``q`` as ``svc``'s role and score it against what ``view`` may see."""
    hits = retrieve(svc, q.text, MRR_AT, mode, vec)
    paths = [h.path for h in hits]
    visible = replace(q, sources=view.visible_sources(q))
    settings = svc.settings
    own_top5 = settings.diversity_per_doc > 0  # a top 5 is then not the top 10's head
    paths5 = [h.path for h in retrieve(svc, q.text, RECALL_AT, mode, vec)] if own_top5 else []
    shown = q.answerable and not visible.sources and first_rank(paths, q.relevant) is not None
    return Outcome(
        qid=q.id,
        category=q.category,
        expected=q.answerable and bool(visible.sources),
        rank=first_rank(paths, visible.relevant) if visible.sources else None,
        refused=low_confidence(hits[: settings.answer_top_k], settings.fallback_min_cosine),
        leaks=view.leaks(paths + paths5),
        source_shown=shown,
        rank5=first_rank(paths5, visible.relevant) if visible.sources and own_top5 else None,
        own_top5=own_top5,
    )


def run_stage(qset: QuestionSet, stage: Stage, opts: RunOptions) -> StageResult:
    """Every question of ``qset`` as every role, with ``stage``'s settings."""
    reason = stage.unavailable()
    if reason:
        return StageResult(stage.name, reason)
    env = dict(stage.env)
    if stage.model and opts.model_home is not None:
        env["NETDOCS_HOME"] = str(opts.model_home)
    with ExitStack() as stack:
        recording = None
        if stage.llm:
            path = opts.llm_recording
            if path is None or not path.is_file():
                return StageResult(stage.name, f"not available: no LLM recording at {path}")
            recording = Recording.load(path)
            env.update(stack.enter_context(serve(recording)))
        settings = stack.enter_context(overrides(env))
        base = stack.enter_context(
            SearchService(None, settings=settings, conn=opts.conn, embedder=opts.embedder)
        )
        model = base.index_model
        if model is None:
            raise EmptyIndex("the index is empty: ingest the corpus first")
        if stage.model and stage.model not in model[0]:
            return StageResult(
                stage.name,
                f"not available: the index is built with {model[0]}, not {stage.model} "
                "(give --model-home with an index built with it)",
            )
        policy, _ = effective_policy(base.conn, settings, opts.policy)
        views = role_views(opts.roles, policy)
        vectors: dict[str, np.ndarray | None] = {
            q.id: None if opts.mode == "fulltext" else base.embed_query(q.text)
            for q in qset.questions
        }
        results = []
        for view in views:
            svc = base
            if view.role is not None:
                svc = SearchService.for_role(
                    view.role,
                    opts.policy,
                    settings=settings,
                    conn=base.conn,
                    embedder=base.embedder,
                )
            outcomes = [ask(svc, view, q, vectors[q.id], opts.mode) for q in qset.questions]
            results.append(RoleResult(view.name, outcomes))
        calls = None
        if recording is not None:
            calls = {"answered": recording.hits, "missed": recording.misses}
        return StageResult(stage.name, None, model[0], results, calls)


def run_set(qset: QuestionSet, stages: list[Stage], opts: RunOptions) -> list[StageResult]:
    """``run_stage`` for each stage, in order."""
    return [run_stage(qset, s, opts) for s in stages]
