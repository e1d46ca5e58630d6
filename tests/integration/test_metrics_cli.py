"""`netdocs report --out DIR` end to end: a CLI process running the report flow against a
real Prefect server; bad usage exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from netdocs.metrics.record import QueryMetric, close_connections, record_query
from netdocs.store.schema import migrate

from .conftest import run_cli


def test_report_cli_writes_the_charts(cli_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    migrate(db_url)
    with psycopg.connect(db_url) as conn:
        for ms in (120.0, 80.0, 3100.0):
            assert record_query(conn, QueryMetric(latency_ms=ms, role="helpdesk", kind="ask"))
        conn.commit()
    close_connections()
    out = tmp_path / "r"
    res = run_cli(cli_env, "report", "--out", str(out), "--no-png", "--json")
    assert res.code == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["out_dir"] == str(out)
    latency = (out / "latency.html").read_text(encoding="utf-8")
    assert latency.count('"percentile": "p') == 3  # one day: p50, p95, p99
    assert not list(out.glob("*.png"))
    assert "| queries | 3 |" in (out / "report.md").read_text(encoding="utf-8")

    assert run_cli(cli_env, "report", "--out", str(out), "--since", "yesterday").code == 2
    assert run_cli(cli_env, "metrics", "--since", "5x").code == 2
    assert run_cli(cli_env, "runs", "--limit", "0").code == 2
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    res = run_cli(cli_env, "report", "--out", str(blocked / "r"))  # before any flow runs
    assert res.code == 2 and "cannot create the folder" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
