"""Summary figures over query-metric rows, judged against the team's targets (pure logic).

Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the
default of ``numpy.percentile`` and ``statistics.quantiles(method="inclusive")``): for
sorted values ``x[0..n-1]`` and ``p`` in [0, 100], ``h = (n - 1) * p / 100`` and the result
is ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.

Satisfaction counts the latest vote on each query: helpful / (helpful + not helpful).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from netdocs.metrics.record import QueryMetric

Judgment = Literal["ok", "warning", "red_flag", "n/a"]


@dataclass(frozen=True)
class Target:
    """``ok`` strictly beyond ``target``; ``red_flag`` strictly beyond ``red``; else warning."""

    target: float
    red: float
    higher_is_better: bool
    label: str

    def judge(self, value: float | None) -> Judgment:
        """ok / warning / red_flag for ``value`` (n/a when there is no value)."""
        if value is None:
            return "n/a"
        if self.higher_is_better:
            return "ok" if value > self.target else "red_flag" if value < self.red else "warning"
        return "ok" if value < self.target else "red_flag" if value > self.red else "warning"


#: The targets of issue 12 in one table: the figure, its target and its red flag.
TARGETS: dict[str, Target] = {
    "avg_latency_ms": Target(3000.0, 10000.0, False, "avg latency < 3 s (red > 10 s)"),
    "p95_latency_ms": Target(8000.0, 20000.0, False, "p95 latency < 8 s (red > 20 s)"),
    "satisfaction": Target(0.80, 0.50, True, "satisfaction > 80 % (red < 50 %)"),
    "cache_hit_rate": Target(0.30, 0.10, True, "cache hit rate > 30 % (red < 10 %)"),
    "empty_rate": Target(0.05, 0.20, False, "empty-result rate < 5 % (red > 20 %)"),
}


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (type 7, see the module docstring); None for no values."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within [0, 100], not {p}")
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def _rate(flags: Iterable[bool], n: int) -> float | None:
    return sum(1 for f in flags if f) / n if n else None


def summarize(
    rows: Sequence[QueryMetric], votes: Mapping[str, bool], hours: float
) -> dict[str, Any]:
    """Every figure for one group of rows; ``votes`` maps query id -> helpful (latest vote)
    and ``hours`` is the length of the window (for queries per hour)."""
    n = len(rows)
    lat = [r.latency_ms for r in rows]
    rated = [votes[r.query_id] for r in rows if r.query_id in votes]
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    fig: dict[str, Any] = {
        "queries": n,
        "queries_per_hour": n / hours if hours > 0 else None,
        "avg_latency_ms": sum(lat) / n if n else None,
        "p50_latency_ms": percentile(lat, 50),
        "p95_latency_ms": percentile(lat, 95),
        "p99_latency_ms": percentile(lat, 99),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "cost_usd": sum(costs),
        "votes": len(rated),
        "helpful": sum(1 for v in rated if v),
        "satisfaction": _rate(rated, len(rated)),
        "cache_hit_rate": _rate((r.cache_hit for r in rows), n),
        "empty_rate": _rate((r.empty for r in rows), n),
        "low_confidence_rate": _rate((r.low_confidence for r in rows), n),
    }
    fig["judgments"] = {name: t.judge(fig[name]) for name, t in TARGETS.items()}
    return fig


def window_hours(since: datetime | None, now: datetime, rows: Sequence[QueryMetric]) -> float:
    """The window length: ``now - since``, or (no ``since``) from the first row to now."""
    start = since or min((r.ts for r in rows if r.ts is not None), default=now)
    return max((now - start).total_seconds() / 3600.0, 0.0)


def report(
    rows: Sequence[QueryMetric],
    votes: Mapping[str, bool],
    *,
    since: datetime | None,
    now: datetime,
    role: str | None = None,
) -> dict[str, Any]:
    """The ``netdocs metrics --json`` object: the window, overall figures, and by role."""
    hours = window_hours(since, now, rows)
    roles = sorted({r.role or "" for r in rows})
    return {
        "since": since.isoformat() if since else None,
        "until": now.isoformat(),
        "hours": hours,
        "role": role,
        "overall": summarize(rows, votes, hours),
        "by_role": {
            name or "(none)": summarize([r for r in rows if (r.role or "") == name], votes, hours)
            for name in roles
        },
        "targets": {name: t.label for name, t in TARGETS.items()},
    }


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> float | None:
    """``30m`` / ``24h`` / ``7d`` / ``2w`` -> seconds; ``all`` -> None (no lower bound)."""
    value = text.strip().lower()
    if value == "all":
        return None
    unit = _UNITS.get(value[-1:])
    try:
        amount = float(value[:-1])
    except ValueError:
        amount = -1.0
    if unit is None or not amount > 0 or not math.isfinite(amount):
        raise ValueError(f"--since: expected e.g. 30m, 24h, 7d, 2w or all, not {text!r}")
    return amount * unit
