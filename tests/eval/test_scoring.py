"""Scores, role visibility, stages and the gate, on hand-made outcomes (no index)."""

from __future__ import annotations

import pytest

from netdocs.errors import AccessDenied
from netdocs.evaluation.metrics import Outcome, aggregate, by_category, first_rank
from netdocs.evaluation.questions import Question, QuestionSet
from netdocs.evaluation.report import gate
from netdocs.evaluation.roles import RoleView, role_views
from netdocs.evaluation.runner import RoleResult, StageResult
from netdocs.evaluation.stages import parse_stages
from netdocs.policy import load_policy

from ..conftest import SAMPLE_TAGS


def test_recall_mrr_and_refusal_by_hand() -> None:
    outcomes = [
        Outcome("a", "exact", True, 1, False),
        Outcome("b", "exact", True, 4, False),
        Outcome("c", "paraphrase", True, 7, True),  # in the top 10, not the top 5
        Outcome("d", "paraphrase", True, None, False),
        Outcome("e", "exact", True, 2, False, leaks=("x.md",)),  # a leak is a miss
        Outcome("f", "exact", False, None, False),  # hidden from the role, not shown
        Outcome("g", "exact", False, None, False, source_shown=True),
        Outcome("u1", "unanswerable", False, None, True),
        Outcome("u2", "unanswerable", False, None, False),
    ]
    s = aggregate(outcomes)
    assert s.answerable == 5 and s.recall == pytest.approx(2 / 5)
    assert s.mrr == pytest.approx((1 + 1 / 4 + 1 / 7) / 5)
    assert (s.hidden, s.hidden_ok, s.leaks) == (2, 1, 1)
    assert s.refusal_rate == 0.5 and s.false_refusals == 1
    cats = by_category(outcomes)
    assert list(cats) == ["exact", "paraphrase", "unanswerable"]
    assert cats["paraphrase"].recall == 0.0 and cats["exact"].recall == pytest.approx(2 / 3)


def test_first_rank() -> None:
    assert first_rank(["a", "b", "c"], lambda p: p in {"c", "b"}) == 2
    assert first_rank(["a"], lambda p: False) is None


def test_role_visibility_follows_the_sample_policy() -> None:
    policy = load_policy(SAMPLE_TAGS)
    helpdesk = RoleView("helpdesk", policy)
    assert helpdesk.sees("time-sync/chrony/faq/issues-with-chronyc.md")
    assert not helpdesk.sees("vpn/wireguard/wg.md")
    assert not RoleView("network_engineer", policy).sees("vpn/wireguard")  # a folder
    assert RoleView("security_engineer", policy).sees("vpn/wireguard/wg.md")
    q = Question("q", "?", ("vpn/wireguard/wg.md", "troubleshooting/tools/nstat.md"))
    assert helpdesk.visible_sources(q) == ("troubleshooting/tools/nstat.md",)
    assert helpdesk.leaks(["vpn/wireguard/wg.md", "routing/frr/glossary.md"]) == (
        "vpn/wireguard/wg.md",
    )
    assert [v.name for v in role_views("all", policy)] == [
        "(unrestricted)",
        "admin",
        "helpdesk",
        "network_engineer",
        "security_engineer",
    ]
    with pytest.raises(AccessDenied, match="nobody"):
        role_views("helpdesk,nobody", policy)
    assert [v.role for v in role_views("unrestricted,helpdesk", policy)] == [None, "helpdesk"]


def test_stages_are_cumulative_and_unknown_settings_are_not_available() -> None:
    stages = parse_stages("fused,+diversity,+llm")
    assert [s.name for s in stages] == ["fused", "+diversity", "+llm"]
    assert stages[2].env["NETDOCS_RERANK"] == "llm"
    assert stages[2].env["NETDOCS_DIVERSITY_PER_DOC"] == "1"  # built on +diversity (default)
    assert stages[0].unavailable() is None and stages[2].unavailable() is None
    from netdocs.evaluation.stages import Stage

    missing = Stage("+x", {}, ("no_such_setting",)).unavailable()
    assert missing is not None and "NETDOCS_NO_SUCH_SETTING" in missing
    with pytest.raises(ValueError, match="unknown stage '\\+magic'"):
        parse_stages("fused,+magic")


def _result(*outcomes: Outcome) -> StageResult:
    return StageResult("fused", None, "m", [RoleResult("helpdesk", list(outcomes))])


def test_gate_names_each_shortfall() -> None:
    qset = QuestionSet("s", SAMPLE_TAGS, ())
    good = _result(Outcome("a", "exact", True, 1, False), Outcome("b", "exact", True, 3, False))
    assert gate(qset, [good], 0.9, 0.6) == []
    weak = _result(Outcome("a", "exact", True, 1, False), Outcome("b", "exact", True, 8, False))
    problems = gate(qset, [weak], 0.9, 0.5)
    assert problems == ["stage fused, role helpdesk: recall@5 0.500 < 0.900"]
    leaky = _result(Outcome("a", "exact", True, 1, False, leaks=("v.md",)))
    assert "1 retrieved chunks the role may not see" in gate(qset, [leaky])[0]
    assert gate(qset, [StageResult("+llm", "not available: no recording")]) == [
        "no stage could run"
    ]
