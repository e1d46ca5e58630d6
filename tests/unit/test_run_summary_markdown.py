"""The run summary artifact (Markdown rendered by the Prefect UI) stays inert whatever a
file name, an error or a note holds."""

from __future__ import annotations

import re

from netdocs.ingest.stats import RunStats
from netdocs.types import DocFailure

EVIL = "x` | ok |\n\n# Everything is fine\n\n[Open the runbook](https://attacker.example/l) ![](https://attacker.example/px.png)"


def test_names_errors_and_notes_cannot_add_markup() -> None:
    stats = RunStats(run_id="r1", scope=[EVIL])
    stats.failed.append(DocFailure(EVIL + ".md", "bad: " + EVIL))
    stats.stale = [{"path": EVIL, "reason": EVIL, "since": "2026-12-02", "withdrawn": False}]
    stats.messages.append(f"{EVIL}: front-matter tags ignored")
    md = stats.to_markdown()
    assert not re.search(r"^\s*#\s*Everything", md, flags=re.MULTILINE)
    assert not re.search(r"(?<!\\)\]\(", md)  # no link or image target
    assert "attacker.example" in md  # the text itself is kept, inert
    failed_rows = [line for line in md.splitlines() if "bad:" in line]
    assert len(failed_rows) == 1 and failed_rows[0].count(" | ") == 1  # one row, two cells
