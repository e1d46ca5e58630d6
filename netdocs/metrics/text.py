"""Human-readable renderings of a metrics report (terminal text and Markdown)."""

from __future__ import annotations

from typing import Any

from netdocs.metrics.summary import TARGETS

_MARK = {"ok": "ok", "warning": "WARNING", "red_flag": "RED FLAG", "n/a": "n/a"}
_EMOJI = {"ok": "✅ ok", "warning": "⚠️ warning", "red_flag": "🛑 red flag", "n/a": "—"}

#: (key, label, format) of the figures shown, in order.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("queries", "queries", "{:d}"),
    ("queries_per_hour", "queries / hour", "{:.2f}"),
    ("avg_latency_ms", "avg latency (ms)", "{:.1f}"),
    ("p50_latency_ms", "p50 latency (ms)", "{:.1f}"),
    ("p95_latency_ms", "p95 latency (ms)", "{:.1f}"),
    ("p99_latency_ms", "p99 latency (ms)", "{:.1f}"),
    ("input_tokens", "input tokens", "{:d}"),
    ("output_tokens", "output tokens", "{:d}"),
    ("cost_usd", "cost (USD)", "{:.4f}"),
    ("satisfaction", "satisfaction", "{:.1%}"),
    ("votes", "votes", "{:d}"),
    ("cache_hit_rate", "cache hit rate", "{:.1%}"),
    ("empty_rate", "empty-result rate", "{:.1%}"),
    ("low_confidence_rate", "low-confidence rate", "{:.1%}"),
)


def fmt(value: Any, pattern: str) -> str:
    """``value`` formatted, or ``-`` for None."""
    return "-" if value is None else pattern.format(value)


def _rows(fig: dict[str, Any], marks: dict[str, str]) -> list[tuple[str, str, str]]:
    judged = fig["judgments"]
    return [
        (label, fmt(fig[key], pattern), marks[judged[key]] if key in judged else "")
        for key, label, pattern in FIGURES
    ]


def as_text(report: dict[str, Any]) -> str:
    """The ``netdocs metrics`` terminal output."""
    window = f"since {report['since']}" if report["since"] else "all time"
    lines = [f"query metrics, {window} ({report['hours']:.1f} h)"]
    groups = {"overall": report["overall"], **report["by_role"]}
    for name, fig in groups.items():
        lines.append("")
        lines.append(name if name == "overall" else f"role {name}")
        for label, value, mark in _rows(fig, _MARK):
            lines.append(f"  {label:<22}{value:>14}  {mark}".rstrip())
    lines += ["", "targets: " + "; ".join(t.label for t in TARGETS.values())]
    return "\n".join(lines)


def as_markdown(report: dict[str, Any], title: str = "netdocs metrics") -> str:
    """The report as Markdown tables (overall, then one column per role)."""
    window = f"since {report['since']}" if report["since"] else "all time"
    out = [f"# {title}", "", f"Window: {window} until {report['until']}.", ""]
    out += ["| figure | value | judgment |", "|---|---:|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in _rows(report["overall"], _EMOJI)]
    roles = report["by_role"]
    if roles:
        names = list(roles)
        out += ["", "## By role", "", "| figure | " + " | ".join(names) + " |"]
        out.append("|---|" + "---:|" * len(names))
        for key, label, pattern in FIGURES:
            cells = []
            for name in names:
                fig = roles[name]
                mark = fig["judgments"].get(key)
                cell = fmt(fig[key], pattern)
                cells.append(
                    f"{cell} {_EMOJI[mark].split()[0]}" if mark and mark != "n/a" else cell
                )
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Targets: " + "; ".join(t.label for t in TARGETS.values()) + "."]
    return "\n".join(out)
