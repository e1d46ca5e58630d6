"""benchmarks/compare_runs.py: equal work and measured figures within their noise bands."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare_runs import compare, drift, main

RUN = {
    "run_id": "a",
    "machine": {"load_avg_at_start": [1.0, 1.0, 1.0]},
    "side": {
        "netdocs": {
            "full": {"chunks_embedded": 727, "embed_calls": 3, "wall_s": 100.0},
            "floor": {"chunks_per_s": 40.0},
        },
        "query": {"p95_ms": 20.0, "p99_ms": 40.0, "recall_at_10": 0.95},
        "peak_rss_mb": 800.0,
    },
}


def _with(path: str, value: float) -> dict[str, object]:
    run = json.loads(json.dumps(RUN))
    *parents, leaf = path.split("/")
    node = run
    for key in parents:
        node = node[key]
    node[leaf] = value
    return run


def _bad(a: dict[str, object], b: dict[str, object]) -> set[str]:
    rows, _ = compare(a, b)
    return {r.path for r in rows if not r.ok}


def test_noise_within_the_bands_agrees() -> None:
    other = _with("side/netdocs/full/wall_s", 118.0)  # +18 %: within ±25 %
    other = {**other, "run_id": "b", "machine": {"load_avg_at_start": [9.0, 9.0, 9.0]}}
    assert _bad(RUN, other) == set()


def test_a_different_count_or_a_figure_outside_its_band_disagrees() -> None:
    assert _bad(RUN, _with("side/netdocs/full/chunks_embedded", 728)) == {
        "side/netdocs/full/chunks_embedded"
    }
    assert _bad(RUN, _with("side/netdocs/full/wall_s", 140.0)) == {"side/netdocs/full/wall_s"}
    assert _bad(RUN, _with("side/peak_rss_mb", 900.0)) == {"side/peak_rss_mb"}  # > ±10 %
    assert _bad(RUN, _with("side/query/recall_at_10", 0.90)) == {"side/query/recall_at_10"}
    assert _bad(RUN, _with("side/query/p95_ms", 21.5)) == set()  # within the 2 ms floor
    assert _bad(RUN, _with("side/netdocs/floor/chunks_per_s", 45.0)) == set()  # a rate


def test_the_command_exits_1_when_runs_disagree(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(RUN))
    b.write_text(json.dumps(_with("side/netdocs/full/embed_calls", 4)))
    assert main([str(a), str(b)]) == 1
    assert main([str(a), str(a)]) == 0
    assert main([str(a), str(b), "--report-only"]) == 0


def test_seconds_named_like_a_ratio_get_the_seconds_band() -> None:
    """ "duration_s" holds the letters of "ratio": it is still seconds (±25 % or 0.5 s),
    not a ratio (±20 % or 0.02)."""
    run = _with("side/netdocs/full/duration_s", 0.60)
    assert _bad(run, _with("side/netdocs/full/duration_s", 0.80)) == set()  # 0.2 s < 0.5 s
    share = _with("side/netdocs/full/visible_share", 0.60)
    assert _bad(share, _with("side/netdocs/full/visible_share", 0.80)) == {
        "side/netdocs/full/visible_share"
    }


def test_single_rounds_of_a_repeated_step_are_not_compared() -> None:
    """A repeated step is judged by its median; its rounds are the raw material."""
    a = _with("side/netdocs/full/rounds", [{"wall_s": 3.0}, {"wall_s": 9.0}])  # type: ignore[arg-type]
    b = _with("side/netdocs/full/rounds", [{"wall_s": 3.1}, {"wall_s": 3.2}])  # type: ignore[arg-type]
    assert _bad(a, b) == set()


def test_drift_names_a_host_that_ran_faster_for_the_whole_second_run() -> None:
    a = {"s": {f"step{i}_s": 10.0 + i for i in range(8)}}
    faster = {"s": {f"step{i}_s": (10.0 + i) * 0.6 for i in range(8)}}
    rows, _ = compare(a, faster)
    assert drift(rows).startswith("second run's durations / first's: median 0.60 over 8")
    assert drift(rows).endswith("8 faster, 0 slower in the second run")
    mixed = {"s": {f"step{i}_s": (10.0 + i) * (0.6 if i % 2 else 1.6) for i in range(8)}}
    rows, _ = compare(a, mixed)
    assert drift(rows).endswith("4 faster, 4 slower in the second run")
