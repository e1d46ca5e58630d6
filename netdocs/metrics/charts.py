"""Report charts with Altair: latency percentiles, cost per day, queries by role,
satisfaction. Each chart is written as HTML (the data points embedded in the Vega-Lite
spec) and PNG (rendered by vl-convert, no browser needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date
from pathlib import Path
from typing import Any

from netdocs.metrics.record import QueryMetric
from netdocs.metrics.summary import percentile

CHARTS = ("latency", "cost", "roles", "satisfaction")


def _day(m: QueryMetric) -> date:
    assert m.ts is not None
    return m.ts.astimezone(UTC).date()


def daily_series(
    rows: Sequence[QueryMetric], votes: Mapping[str, bool]
) -> dict[str, list[dict[str, Any]]]:
    """The chart data (pure): one point per UTC day (and per percentile / role / rating)."""
    by_day: dict[date, list[QueryMetric]] = defaultdict(list)
    for m in rows:
        if m.ts is not None:
            by_day[_day(m)].append(m)
    latency, cost, roles, satisfaction = [], [], [], []
    for day in sorted(by_day):
        ms = by_day[day]
        label = day.isoformat()
        lat = [m.latency_ms for m in ms]
        for p in (50, 95, 99):
            latency.append({"day": label, "percentile": f"p{p}", "ms": percentile(lat, p)})
        cost.append({"day": label, "usd": sum(m.cost_usd or 0.0 for m in ms)})
        counts: dict[str, int] = defaultdict(int)
        for m in ms:
            counts[m.role or "(none)"] += 1
        roles += [{"day": label, "role": r, "queries": n} for r, n in sorted(counts.items())]
        rated = [votes[m.query_id] for m in ms if m.query_id in votes]
        if rated:
            satisfaction.append(
                {
                    "day": label,
                    "satisfaction": sum(rated) / len(rated),
                    "helpful": sum(rated),
                    "not_helpful": len(rated) - sum(rated),
                }
            )
    return {"latency": latency, "cost": cost, "roles": roles, "satisfaction": satisfaction}


def _chart(values: list[dict[str, Any]], title: str) -> Any:
    import altair as alt

    return alt.Chart(alt.Data(values=values), title=title, width=520, height=260)


def build_charts(series: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Altair chart objects, one per name in ``CHARTS``."""
    import altair as alt

    day = alt.X("day:T", title="day (UTC)", timeUnit="yearmonthdate")
    return {
        "latency": _chart(series["latency"], "Query latency")
        .mark_line(point=True)
        .encode(day, alt.Y("ms:Q", title="latency (ms)"), alt.Color("percentile:N")),
        "cost": _chart(series["cost"], "LLM cost per day")
        .mark_bar()
        .encode(day, alt.Y("usd:Q", title="cost (USD)")),
        "roles": _chart(series["roles"], "Queries by role")
        .mark_bar()
        .encode(day, alt.Y("queries:Q", title="queries"), alt.Color("role:N")),
        "satisfaction": _chart(series["satisfaction"], "Satisfaction (helpful votes)")
        .mark_line(point=True)
        .encode(
            day,
            alt.Y("satisfaction:Q", title="helpful share", scale=alt.Scale(domain=[0, 1])),
            tooltip=["day:T", "helpful:Q", "not_helpful:Q"],
        ),
    }


def write_charts(
    series: Mapping[str, list[dict[str, Any]]], out: Path, *, png: bool = True
) -> dict[str, list[Path]]:
    """Write ``<name>.html`` (and ``<name>.png``) for every chart into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for name, chart in build_charts(series).items():
        paths = [out / f"{name}.html"]
        chart.save(str(paths[0]))  # loads Vega from its CDN; the PNG needs nothing
        if png:
            paths.append(out / f"{name}.png")
            chart.save(str(paths[1]), scale_factor=1.0)
        written[name] = paths
    return written
