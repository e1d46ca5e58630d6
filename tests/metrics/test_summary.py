"""Summary logic (pure): percentiles against numpy/statistics, the targets of issue 12 at
their boundaries, the window parser."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from netdocs.metrics.record import QueryMetric
from netdocs.metrics.summary import parse_since, percentile, report, summarize

# The issue's targets, written out here (not read from the product's table):
# (figure, ok below/above, red beyond, higher is better)
ISSUE_TARGETS = [
    ("avg_latency_ms", 3000.0, 10000.0, False),
    ("p95_latency_ms", 8000.0, 20000.0, False),
    ("satisfaction", 0.80, 0.50, True),
    ("cache_hit_rate", 0.30, 0.10, True),
    ("empty_rate", 0.05, 0.20, False),
]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101, 250])
def test_percentiles_match_numpy_and_statistics(n: int) -> None:
    rng = random.Random(n)
    values = [rng.lognormvariate(4, 1.2) for _ in range(n)]
    for p in (0, 25, 50, 90, 95, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)), rel=1e-12)
    if n >= 2:  # statistics: the same definition ("inclusive" = type 7)
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        assert percentile(values, 95) == pytest.approx(cuts[94], rel=1e-12)
        assert percentile(values, 99) == pytest.approx(cuts[98], rel=1e-12)
    assert percentile([], 95) is None


def _rows_with(figure: str, value: float) -> tuple[list[QueryMetric], dict[str, bool]]:
    """Rows (and votes) whose ``figure`` is exactly ``value``."""
    if figure == "avg_latency_ms":
        return [QueryMetric(latency_ms=value)] * 4, {}
    if figure == "p95_latency_ms":  # 21 equal values: every percentile is that value
        return [QueryMetric(latency_ms=value) for _ in range(21)], {}
    n = 100  # rates with two decimals are exact multiples of 1/100
    hits = round(value * n)
    rows = [QueryMetric(latency_ms=1.0) for _ in range(n)]
    if figure == "satisfaction":
        return rows, {r.query_id: i < hits for i, r in enumerate(rows)}
    for i, r in enumerate(rows):
        setattr(r, "cache_hit" if figure == "cache_hit_rate" else "empty", i < hits)
    return rows, {}


@pytest.mark.parametrize(("figure", "target", "red", "higher"), ISSUE_TARGETS)
def test_judgments_at_the_boundaries(figure: str, target: float, red: float, higher: bool) -> None:
    step = 1.0 if "latency" in figure else 0.01
    better, worse = (step, -step) if higher else (-step, step)
    cases = [
        (target + better, "ok"),
        (target, "warning"),  # "< 3 s" is not met at exactly 3 s
        (red, "warning"),  # "red flag at > 10 s": exactly 10 s is not yet one
        (red + worse, "red_flag"),
    ]
    for value, expected in cases:
        rows, votes = _rows_with(figure, value)
        fig = summarize(rows, votes, hours=1.0)
        assert fig[figure] == pytest.approx(value)
        assert fig["judgments"][figure] == expected, (figure, value)


def test_no_data_is_not_judged() -> None:
    fig = summarize([], {}, hours=24.0)
    assert fig["queries"] == 0 and fig["avg_latency_ms"] is None
    assert set(fig["judgments"].values()) == {"n/a"}


def test_latest_vote_and_roles() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    rows = [
        QueryMetric(ts=now - timedelta(hours=1), latency_ms=100, role="helpdesk"),
        QueryMetric(ts=now - timedelta(hours=2), latency_ms=300, role="helpdesk"),
        QueryMetric(ts=now - timedelta(hours=3), latency_ms=500, role=None),
    ]
    votes = {rows[0].query_id: False, rows[2].query_id: True}
    out = report(rows, votes, since=now - timedelta(hours=24), now=now)
    assert out["hours"] == 24.0 and out["overall"]["queries_per_hour"] == pytest.approx(3 / 24)
    assert set(out["by_role"]) == {"helpdesk", "(none)"}
    assert out["by_role"]["helpdesk"]["avg_latency_ms"] == 200
    assert out["by_role"]["helpdesk"]["satisfaction"] == 0.0
    assert out["overall"]["satisfaction"] == 0.5


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)]
)
def test_parse_since(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds
    assert parse_since("all") is None


@pytest.mark.parametrize("bad", ["", "24", "h", "-1h", "0d", "3y", "nanh", "infh"])
def test_parse_since_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(bad)
