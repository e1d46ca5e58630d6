"""The evaluation report: text tables, the JSON shape, and the gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netdocs.evaluation.metrics import Scores
from netdocs.evaluation.questions import QuestionSet
from netdocs.evaluation.runner import StageResult


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _row(label: str, s: Scores) -> str:
    hidden = f"{s.hidden_ok}/{s.hidden}" if s.hidden else "-"
    refusal = _f(s.refusal_rate) if s.unanswerable else "-"
    n = s.answerable if s.answerable or not s.unanswerable else s.unanswerable
    return (
        f"  {label:<28}{n:>4}{_f(s.recall):>10}{_f(s.mrr):>9}"
        f"{hidden:>10}{refusal:>9}{s.false_refusals:>9}{s.leaks:>7}"
    )


HEADER = (
    f"  {'role / category':<28}{'n':>4}{'recall@5':>10}{'MRR@10':>9}"
    f"{'hidden ok':>10}{'refusal':>9}{'flagged':>9}{'leaks':>7}"
)


def text_report(qset: QuestionSet, results: Sequence[StageResult]) -> str:
    """One table per stage: a row per role, then that role's categories indented."""
    lines = [
        f"set {qset.name} ({qset.path}): {len(qset.answerable)} answerable, "
        f"{len(qset.unanswerable)} unanswerable questions"
    ]
    lines += [f"  skipped: {e}" for e in qset.errors]
    for r in results:
        if r.unavailable:
            lines.append(f"\nstage {r.name}: {r.unavailable}")
            continue
        calls = f", LLM answers {r.llm_calls}" if r.llm_calls is not None else ""
        lines += [f"\nstage {r.name} (model {r.model}{calls})", HEADER]
        for role in r.roles:
            lines.append(_row(role.role, role.scores))
            lines += [_row("  " + c, s) for c, s in role.categories.items()]
    lines.append(
        "\nn: questions a role should find (a source visible to it; unanswerable rows: those "
        "questions); hidden ok: questions "
        "whose sources the role may not see and none was shown; refusal: unanswerable "
        "flagged low confidence; flagged: answerable flagged low confidence; leaks: "
        "retrieved chunks of files the role may not see."
    )
    return "\n".join(lines)


def json_report(qset: QuestionSet, results: Sequence[StageResult]) -> dict[str, Any]:
    return {
        "set": qset.name,
        "file": str(qset.path),
        "answerable": len(qset.answerable),
        "unanswerable": len(qset.unanswerable),
        "skipped": list(qset.errors),
        "stages": [r.to_json() for r in results],
    }


def gate(
    qset: QuestionSet,
    results: Sequence[StageResult],
    min_recall: float | None = None,
    min_mrr: float | None = None,
    min_refusal: float | None = None,
) -> list[str]:
    """Why the gate fails (empty = passes). Every available stage and role must reach the
    minimums; any leak, any shown hidden source, or any skipped question fails it."""
    problems = [f"malformed question skipped: {e}" for e in qset.errors]
    ran = [r for r in results if r.unavailable is None]
    if not ran:
        problems.append("no stage could run")
    for r in ran:
        for role in r.roles:
            s, where = role.scores, f"stage {r.name}, role {role.role}"
            if s.leaks:
                problems.append(f"{where}: {s.leaks} retrieved chunks the role may not see")
            if s.hidden_ok < s.hidden:
                problems.append(f"{where}: {s.hidden - s.hidden_ok} hidden sources shown")
            checks = [("recall@5", s.recall, min_recall), ("MRR@10", s.mrr, min_mrr)]
            checks.append(("refusal rate", s.refusal_rate, min_refusal))
            for label, value, minimum in checks:
                if minimum is not None and value is not None and value < minimum:
                    problems.append(f"{where}: {label} {value:.3f} < {minimum:.3f}")
    return problems
