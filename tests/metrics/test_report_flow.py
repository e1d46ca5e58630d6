"""The metrics-report flow under the Prefect test harness: artifact, report.md, and chart
files whose pixels and embedded data points are checked against the raw rows."""

from __future__ import annotations

import json
import random
import re
import struct
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from prefect.artifacts import Artifact

from netdocs.metrics.feedback import give_feedback
from netdocs.metrics.record import QueryMetric, close_connections, record_query
from netdocs.store.schema import migrate

pytestmark = pytest.mark.usefixtures("prefect_harness")
DAYS = 5


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (signature, then the IHDR chunk)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def spec_data(path: Path) -> list[dict[str, object]]:
    """The data points embedded in an Altair HTML chart."""
    match = re.search(r"var spec = (\{.*?\});\n", path.read_text(encoding="utf-8"))
    assert match, path
    return json.loads(match.group(1))["data"]["values"]


def test_report_flow_writes_artifact_and_charts(db_url: str, tmp_path: Path) -> None:
    from flows.report import metrics_report

    migrate(db_url)
    rng = random.Random(5)
    # Noon of each of the last DAYS days, so a row's UTC day is unambiguous.
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    if today > datetime.now(UTC):
        today -= timedelta(days=1)
    rows: list[QueryMetric] = []
    for d in range(DAYS):
        for _ in range(10 + 3 * d):
            rows.append(
                QueryMetric(
                    ts=today - timedelta(days=d, minutes=rng.uniform(0, 600)),
                    latency_ms=rng.lognormvariate(5, 1),
                    role=rng.choice(["admin", "helpdesk", None]),
                    cost_usd=rng.uniform(0, 0.01),
                    kind="ask",
                )
            )
    with psycopg.connect(db_url) as conn:
        for m in rows:
            assert record_query(conn, m)
        conn.commit()
        votes = {m.query_id: rng.random() < 0.7 for m in rows[::3]}
        for qid, helpful in votes.items():
            give_feedback(qid, "helpful" if helpful else "not_helpful", conn=conn)
    close_connections()

    out = tmp_path / "report"
    result = metrics_report(out_dir=str(out), since="7d", days=7)
    assert result["out_dir"] == str(out)
    assert set(result["charts"]) == {"latency", "cost", "roles", "satisfaction"}

    by_day: dict[str, list[QueryMetric]] = defaultdict(list)
    for m in rows:
        assert m.ts is not None
        by_day[m.ts.date().isoformat()].append(m)
    assert len(by_day) == DAYS

    for name in result["charts"]:
        width, height = png_size(out / f"{name}.png")
        assert width >= 520 and height >= 260  # the chart's own size plus axes
        assert (out / f"{name}.png").stat().st_size > 5000

    latency = spec_data(out / "latency.html")
    assert len(latency) == 3 * DAYS
    for point in latency:
        lat = [m.latency_ms for m in by_day[str(point["day"])]]
        p = int(str(point["percentile"])[1:])
        assert point["ms"] == pytest.approx(float(np.percentile(lat, p)))
    cost = {p["day"]: p["usd"] for p in spec_data(out / "cost.html")}
    assert cost == pytest.approx({d: sum(m.cost_usd or 0 for m in ms) for d, ms in by_day.items()})
    roles = {(p["day"], p["role"]): p["queries"] for p in spec_data(out / "roles.html")}
    assert sum(roles.values()) == len(rows)
    for d, ms in by_day.items():
        assert roles.get((d, "(none)"), 0) == sum(1 for m in ms if m.role is None)
    sat = {p["day"]: p["satisfaction"] for p in spec_data(out / "satisfaction.html")}
    for d, ms in by_day.items():
        rated = [votes[m.query_id] for m in ms if m.query_id in votes]
        assert sat[d] == pytest.approx(sum(rated) / len(rated))

    artifact = Artifact.get("metrics-report")
    assert artifact is not None and artifact.data is not None
    text = str(artifact.data)
    p95 = float(np.percentile([m.latency_ms for m in rows], 95))
    assert f"| p95 latency (ms) | {p95:.1f} |" in text
    assert f"| queries | {len(rows)} |" in text and "## By role" in text
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# netdocs daily")


def test_with_docs_roots_a_run_may_not_choose_where_its_report_goes(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.report import metrics_report
    from netdocs.config import get_settings
    from netdocs.errors import ConfigError

    docs, reports = tmp_path / "docs", tmp_path / "reports"
    docs.mkdir()
    monkeypatch.setenv("NETDOCS_DOCS_ROOTS", str(docs))
    monkeypatch.setenv("NETDOCS_REPORT_DIR", str(reports))
    get_settings.cache_clear()
    migrate(db_url)
    for out in (docs / "x", reports / ".." / "docs"):  # into a docs root, for it to index
        with pytest.raises(ConfigError, match="outside NETDOCS_REPORT_DIR"):
            metrics_report(out_dir=str(out), since="7d", days=2, png=False)
    assert not list(docs.iterdir())
    done = metrics_report(out_dir=str(reports / "today"), since="7d", days=2, png=False)
    assert (Path(done["out_dir"]) / "report.md").exists()
    get_settings.cache_clear()
