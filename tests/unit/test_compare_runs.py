"""benchmarks/compare_runs.py: equal work and measured figures within their noise bands."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare_runs import compare, drift, main, normalized

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


def _probed(run: dict[str, object], full: float, query: float) -> dict[str, object]:
    """``run`` with host probes of ``full`` and ``query`` seconds on those two steps."""
    out = json.loads(json.dumps(run))
    out["side"]["netdocs"]["full"]["host"] = {"probe_s": [full, full], "steal_share": 0.0}
    out["side"]["query"]["host"] = {"probe_s": [query, query], "steal_share": 0.0}
    return out


def test_normalize_factors_out_a_host_that_was_slower_for_that_step_only() -> None:
    a = _probed(RUN, 0.10, 0.10)
    slow = _with("side/netdocs/full/wall_s", 140.0)  # +40 %: outside ±25 % as measured
    slow["side"]["netdocs"]["floor"]["chunks_per_s"] = 28.0  # -30 % (no probe on this step)
    b = _probed(slow, 0.14, 0.10)  # the host ran that step's probe 40 % slower too
    rows, _ = compare(a, b, normalize=True)
    bad = {r.path for r in rows if not r.ok}
    assert "side/netdocs/full/wall_s" not in bad  # 140 s on a 1.4x slower host = 100 s
    assert "side/netdocs/floor/chunks_per_s" in bad  # no probe there: judged as measured
    assert "side/netdocs/full/chunks_embedded" not in bad
    assert _bad(a, b) >= {"side/netdocs/full/wall_s"}  # without --normalize it disagrees


def test_normalize_does_not_hide_a_step_that_slowed_on_a_steady_host() -> None:
    a = _probed(RUN, 0.10, 0.10)
    b = _probed(_with("side/query/p95_ms", 30.0), 0.10, 0.10)  # +50 %, probes equal
    rows, _ = compare(a, b, normalize=True)
    assert {r.path for r in rows if not r.ok} == {"side/query/p95_ms"}
    c = _probed(_with("side/query/p95_ms", 30.0), 0.10, 0.15)  # and 1.5x slower host
    rows, _ = compare(a, c, normalize=True)
    assert {r.path for r in rows if not r.ok} == set()
    assert _bad(a, c) == {"side/query/p95_ms"}  # host records themselves are not judged


def test_normalize_rescales_rates_the_other_way_and_leaves_counts_and_sizes() -> None:
    slower = 0.10 / 0.125  # first probe / second: the second host 1.25x slower
    assert normalized("side/x/chunks_per_s", 32.0, slower) == 40.0
    assert normalized("side/x/wall_s", 125.0, slower) == 100.0
    assert normalized("side/x/retrieval_ms/p95", 25.0, slower) == 20.0
    assert normalized("side/x/chunks_embedded", 727.0, slower) == 727.0
    assert normalized("side/x/peak_rss_mb", 800.0, slower) == 800.0


def test_the_number_of_timed_queries_is_a_count_not_a_latency() -> None:
    # s21: --normalize rescaled retrieval_ms/*/n (370 queries became "250.3").
    path = "scale/5000/query/retrieval_ms/helpdesk/n"
    assert normalized(path, 370.0, 1.48) == 370.0
    assert normalized("scale/5000/query/retrieval_ms/helpdesk/p95", 22.0, 0.5) == 11.0
    a = {**RUN, "scale": {"q": {"retrieval_ms": {"n": 370}}}}
    b = {**RUN, "scale": {"q": {"retrieval_ms": {"n": 300}}}}  # within 25 %, but a count
    assert _bad(a, b) == {"scale/q/retrieval_ms/n"}
