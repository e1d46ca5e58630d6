"""CI retrieval gate: eval/sample.yaml over the bundled sample, packaged model, every role.

Measured on this index (onnxruntime fp32), fused: recall@5 1.000 and MRR@10 0.974-1.000 for
every role; dense alone 1.000 and 0.930-1.000. The thresholds sit below that, so one
question slipping out of a role's top 5 passes (helpdesk has 9) but a change that breaks
ranking fails here (README, "Retrieval quality": the fused order reversed, the query vector
zeroed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import SAMPLE_TAGS

MIN_RECALL = "0.85"
MIN_MRR = "0.80"


@pytest.mark.real_model
def test_sample_gate_passes_on_every_role(
    sample_index: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from netdocs.config import get_settings
    from netdocs.evaluation.cli import main

    monkeypatch.setenv("NETDOCS_DATABASE_URL", sample_index)
    get_settings.cache_clear()
    out = tmp_path / "report.json"
    args = ["--set", "sample", "--policy", str(SAMPLE_TAGS), "--output", str(out)]
    code = main([*args, "--min-recall", MIN_RECALL, "--min-mrr", MIN_MRR])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    report = json.loads(out.read_text())
    roles = report["stages"][0]["roles"]
    assert set(roles) == {
        "(unrestricted)",
        "admin",
        "network_engineer",
        "security_engineer",
        "helpdesk",
    }
    # helpdesk may see only FAQ / troubleshooting files: most questions are hidden from it,
    # and none of their sources may be shown.
    helpdesk = roles["helpdesk"]
    assert helpdesk["hidden"] > 0 and helpdesk["hidden_ok"] == helpdesk["hidden"]
    assert all(r["leaks"] == 0 for r in roles.values())
    assert set(roles["(unrestricted)"]["categories"]) == {
        "exact",
        "paraphrase",
        "multi-file",
        "unanswerable",
    }

    # Dense search alone must pass too: on this small sample full-text search alone finds
    # every question (1.000 / 1.000), so a broken dense side would not show in fused.
    dense = [*args, "--roles", "unrestricted,helpdesk", "--mode", "dense"]
    code = main([*dense, "--min-recall", MIN_RECALL, "--min-mrr", MIN_MRR])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err

    # The same index fails a gate set above what it reaches, with a message naming why.
    assert main([*args, "--roles", "none", "--min-recall", "1.01"]) == 1
    assert "recall@5" in capsys.readouterr().err


@pytest.mark.real_model
def test_llm_stage_needs_a_recording_and_points_the_provider_at_the_stub(
    sample_index: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    from netdocs.config import get_settings
    from netdocs.evaluation.questions import load_set
    from netdocs.evaluation.runner import RunOptions, run_stage
    from netdocs.evaluation.stages import Stage

    from ..conftest import REPO

    monkeypatch.setenv("NETDOCS_DATABASE_URL", sample_index)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    get_settings.cache_clear()
    qset = load_set(REPO / "eval" / "sample.yaml")
    stage = Stage("+llm", {}, (), None, True)  # no settings required: runs on any build
    missing = RunOptions(roles="none", llm_recording=tmp_path / "none.json")
    assert "no LLM recording" in (run_stage(qset, stage, missing).unavailable or "")

    recording = tmp_path / "rec.json"
    recording.write_text('{"provider": "anthropic", "exchanges": []}')
    seen: list[str | None] = []
    from netdocs.query import service

    real_search = service.SearchService.search

    def spy(self: service.SearchService, *a: object, **kw: object) -> object:
        seen.append(self.settings.anthropic_base_url)
        return real_search(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(service.SearchService, "search", spy)
    result = run_stage(qset, stage, RunOptions(roles="none", llm_recording=recording))
    assert result.unavailable is None and result.llm_calls == {"answered": 0, "missed": 0}
    # every question searched (twice with diversity on: its own top 5), all through the stub
    assert len(seen) >= len(qset.questions) and len(set(seen)) == 1
    assert seen[0] is not None and seen[0].startswith("http://127.0.0.1:")
    assert "ANTHROPIC_BASE_URL" not in os.environ  # restored after the stage
