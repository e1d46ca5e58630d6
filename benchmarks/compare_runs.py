"""Do two `make bench` runs agree within noise? (issue 14)

    python benchmarks/compare_runs.py benchmarks/results/A.json benchmarks/results/B.json
    python benchmarks/compare_runs.py --normalize A.json B.json   # host speed factored out

Every numeric figure the two results files share is compared. Work counts (documents
scanned, chunks embedded, embedding calls and texts, nodes, rows) describe what was done,
not how fast: they must be equal, else the runs did different work and their timings are
not comparable. Measured figures (seconds, milliseconds, MB, ratios, recall) agree when
they differ by at most their kind's relative band or an absolute floor (timer resolution,
a few ms of scheduling); the bands are set for a shared 2-core host and printed with the
result. Run identity (ids, dates, arguments, load averages) is not compared, nor are the
single rounds of a repeated step (``rounds``; its median is), nor the time the bench takes
to write its grown corpus (``generate_s``: set-up, not a netdocs figure).

The host's speed around each step (``host``: a fixed workload timed before and after it,
benchmarks/host_probe.py) is not compared either. With ``--normalize`` the second run's
durations (and CPU seconds, latencies, rates) of a step are rescaled by the ratio of the two
runs' probes for that step before they are judged, so a host that ran the whole second run
20 % slower does not count as disagreement; both verdicts are printed.

Exit 0 when every count is equal and every measured figure is within its band, else 1;
`--report-only` always exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP = re.compile(
    r"(^|/)(run_id|started_utc|args|machine|load_avg[^/]*|messages|embedder|corpus|rounds|"
    r"generate_s|host)(/|$|\[)"
)
PER_TIME = re.compile(r"per_s$")  # a rate: a slower host lowers it
TIMED = re.compile(r"(_s$|_ms(/|$|_))")  # seconds or milliseconds: a slower host raises them
# (pattern on the figure's path, relative band, absolute floor): first match wins.
BANDS: tuple[tuple[re.Pattern[str], float, float], ...] = (
    (re.compile(r"(p99|max)[^/]*$"), 0.50, 5.0),  # tails: a few slow requests move them
    (re.compile(r"(_ms|p50|p95|mean)[^/]*$"), 0.30, 2.0),
    (re.compile(r"(rss|_mb|_bytes)[^/]*$"), 0.10, 5.0),
    (re.compile(r"(recall|mrr|precision)[^/]*$"), 0.02, 0.01),
    # whole words: "duration_s" holds "ratio" but is seconds
    (re.compile(r"(^|[/_])(ratio|share|per_s|x)(_[^/]*)?$"), 0.20, 0.02),
    (re.compile(r"_s$"), 0.25, 0.5),
)
COUNT = re.compile(
    r"(^|/)(scanned|new|changed|unchanged|deleted|committed|quarantined|metadata_only|"
    r"chunks[a-z_]*|embed_calls|embed_texts|distinct_texts|nodes[a-z_]*|documents|"
    r"embedding_cache_hits|[a-z_]*tokens|exit_code|questions|n)$"  # n: queries timed
)

RATE = re.compile(r"(_s|_ms|_mb|_bytes|ratio|share)$")  # chunks_per_s is a rate, not a count


@dataclass(frozen=True)
class Row:
    """One figure of both runs and the verdict."""

    path: str
    a: float
    b: float
    kind: str  # "count" or "measured"
    ok: bool
    band: str


def figures(data: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf of a results document by its slash path (lists by index)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from figures(value, f"{prefix}/{key}" if prefix else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from figures(value, f"{prefix}[{i}]")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix, float(data)


def judge(path: str, a: float, b: float) -> Row:
    """The verdict on one figure present in both runs."""
    if COUNT.search(path) and not RATE.search(path):
        return Row(path, a, b, "count", a == b, "equal")
    rel, floor = 0.25, 0.5
    for pattern, r, f in BANDS:
        if pattern.search(path):
            rel, floor = r, f
            break
    ok = abs(a - b) <= max(rel * max(abs(a), abs(b)), floor)
    return Row(path, a, b, "measured", ok, f"±{rel:.0%} or {floor:g}")


def probes(data: Any, prefix: str = "") -> dict[str, float]:
    """The mean host probe (seconds) of every step that recorded one, by the step's path."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        host = data.get("host")
        if isinstance(host, dict) and host.get("probe_s"):
            values = [float(x) for x in host["probe_s"]]
            out[prefix] = sum(values) / len(values)
        for key, value in data.items():
            if key != "host":
                out.update(probes(value, f"{prefix}/{key}" if prefix else str(key)))
    return out


def host_factor(path: str, pa: dict[str, float], pb: dict[str, float]) -> float | None:
    """First run's probe / second run's for the innermost step holding ``path`` (None when
    either run has no probe there)."""
    parts = path.split("/")
    for n in range(len(parts) - 1, 0, -1):
        step = "/".join(parts[:n])
        if step in pa and step in pb and pa[step] > 0 and pb[step] > 0:
            return pa[step] / pb[step]
    return None


def normalized(path: str, b: float, factor: float | None) -> float:
    """The second run's figure as if its host had been as fast as the first run's."""
    if factor is None or COUNT.search(path) and not RATE.search(path):
        return b
    if PER_TIME.search(path):
        return b / factor
    if TIMED.search(path) or re.search(r"_ms/[^/]+$", path):
        return b * factor
    return b


def compare(
    a: dict[str, Any], b: dict[str, Any], normalize: bool = False
) -> tuple[list[Row], list[str]]:
    """Rows for the figures both runs have, and the paths only one of them has; with
    ``normalize``, the second run's timed figures rescaled by the host probes."""
    fa = {p: v for p, v in figures(a) if not SKIP.search(p)}
    fb = {p: v for p, v in figures(b) if not SKIP.search(p)}
    pa, pb = probes(a), probes(b)
    rows = []
    for p in sorted(fa.keys() & fb.keys()):
        vb = normalized(p, fb[p], host_factor(p, pa, pb)) if normalize else fb[p]
        rows.append(judge(p, fa[p], vb))
    return rows, sorted(fa.keys() ^ fb.keys())


def probe_drift(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The second run's host probes against the first's, step by step."""
    pa, pb = probes(a), probes(b)
    ratios = sorted(pb[k] / pa[k] for k in pa.keys() & pb.keys() if pa[k] > 0)
    if not ratios:
        return "no host probes in both runs (results written before host_probe.py)"
    return (
        f"host probe, second run / first: median {ratios[len(ratios) // 2]:.2f} over "
        f"{len(ratios)} steps (range {ratios[0]:.2f}-{ratios[-1]:.2f})"
    )


def drift(rows: list[Row]) -> str:
    """How the second run's timings sit against the first's: the median ratio over every
    duration figure, and the direction of the misses. A host whose speed changed between the
    runs moves nearly all of them one way; noise moves them both ways."""
    timed = [r for r in rows if r.kind == "measured" and r.path.endswith("_s") and r.a > 0.05]
    if not timed:
        return "no durations to compare"
    ratios = sorted(r.b / r.a for r in timed)
    misses = [r for r in timed if not r.ok]
    faster = sum(r.b < r.a for r in misses)
    return (
        f"second run's durations / first's: median {ratios[len(ratios) // 2]:.2f} over "
        f"{len(timed)} figures (quartiles {ratios[len(ratios) // 4]:.2f}-"
        f"{ratios[3 * len(ratios) // 4]:.2f}); duration misses: {faster} faster, "
        f"{len(misses) - faster} slower in the second run"
    )


def _fmt(x: float) -> str:
    return f"{x:.0f}" if x == int(x) and abs(x) < 1e12 else f"{x:.4g}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--all", action="store_true", help="print every figure, not only misses")
    p.add_argument("--report-only", action="store_true", help="exit 0 whatever the result")
    p.add_argument(
        "--normalize", action="store_true", help="judge timings with the host's speed factored out"
    )
    args = p.parse_args(argv)
    try:
        a, b = (json.loads(f.read_text(encoding="utf-8")) for f in (args.first, args.second))
    except (OSError, ValueError) as e:
        print(f"cannot read results: {e}", file=sys.stderr)
        return 2
    rows, unpaired = compare(a, b, args.normalize)
    print(f"| figure | {args.first.name} | {args.second.name} | kind | band | agree |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if args.all or not r.ok:
            verdict = "yes" if r.ok else "**no**"
            print(f"| {r.path} | {_fmt(r.a)} | {_fmt(r.b)} | {r.kind} | {r.band} | {verdict} |")
    counts = [r for r in rows if r.kind == "count"]
    measured = [r for r in rows if r.kind == "measured"]
    bad_counts = sum(not r.ok for r in counts)
    bad_measured = sum(not r.ok for r in measured)
    print(
        f"\n{len(rows)} figures in both runs: counts {len(counts) - bad_counts}/{len(counts)} "
        f"equal, measured {len(measured) - bad_measured}/{len(measured)} within their band"
        + (f"; {len(unpaired)} figure(s) in only one run" if unpaired else "")
    )
    print(drift(compare(a, b)[0]))
    print(probe_drift(a, b))
    agree = bad_counts == 0 and bad_measured == 0
    verdict = "agree" if agree else "do NOT agree"
    how = " once each step's host speed is factored out" if args.normalize else ""
    print(f"the runs {verdict} within noise{how}")
    return 0 if agree or args.report_only else 1


if __name__ == "__main__":
    raise SystemExit(main())
