"""`/metrics` and `/healthz` need no token, so what one caller can make them cost is
bounded: only fixed windows, each text computed by one request at a time and reused for
NETDOCS_SERVE_METRICS_CACHE_S; the health check at most once a second."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from netdocs.config import Settings
from netdocs.db import connect
from netdocs.metrics.record import QueryMetric, record_query
from netdocs.server import handlers
from netdocs.server.app import create_app
from netdocs.server.runtime import Runtime
from netdocs.store.schema import migrate


def test_metrics_are_computed_one_at_a_time_and_reused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(db_url)
    policy = tmp_path / "tags.yaml"
    policy.write_text("roles:\n  hd: {allow: [faq]}\n", encoding="utf-8")
    settings = Settings(policy=policy, embedding_provider="hashing", serve_metrics_cache_s=60)
    real = handlers.metrics_text
    lock, running, peak, windows = threading.Lock(), [0], [0], []

    def slow(rt: Runtime, since: float | None) -> str:  # the real text, slowly
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            windows.append(since)
        try:
            time.sleep(0.3)
            return real(rt, since)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(handlers, "metrics_text", slow)
    rt = Runtime(settings, db_url)
    try:
        with TestClient(create_app(rt)) as client, ThreadPoolExecutor(6) as pool:
            asks = ["24h"] * 4 + ["7d"] * 2
            replies = list(pool.map(lambda s: client.get(f"/metrics?since={s}"), asks))
            assert [r.status_code for r in replies] == [200] * 6
            assert peak[0] == 1  # never two computations at once
            assert sorted(windows) == [86400.0, 604800.0]  # one per window, then reused
            with connect(db_url, autocommit=True) as conn:
                assert record_query(conn, QueryMetric(latency_ms=5.0, role="hd", kind="search"))
            again = client.get("/metrics?since=24h")
            assert again.text == replies[0].text  # within the TTL: the reused text
    finally:
        rt.close()


def test_only_the_fixed_windows_are_computed(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No token is needed, so a caller may not pick its own window: twenty other spellings
    are refused without any computation; the fixed windows each compute once."""
    migrate(db_url)
    policy = tmp_path / "tags.yaml"
    policy.write_text("roles:\n  hd: {allow: [faq]}\n", encoding="utf-8")
    settings = Settings(policy=policy, embedding_provider="hashing", serve_metrics_cache_s=60)
    real, windows = handlers.metrics_text, []

    def spy(rt: Runtime, since: float | None) -> str:
        windows.append(since)
        return real(rt, since)

    monkeypatch.setattr(handlers, "metrics_text", spy)
    rt = Runtime(settings, db_url)
    try:
        with TestClient(create_app(rt)) as client:
            others = [f"{1441 + i}m" for i in range(18)] + ["24.0001h", "0.001m"]
            for since in others:
                reply = client.get(f"/metrics?since={since}")
                assert reply.status_code == 400 and "1h, 24h, 7d, 30d, all" in reply.text
            assert windows == []
            for since in ["24h", "1h", "24h", "all", "30d", "7d", "all"]:
                assert client.get(f"/metrics?since={since}").status_code == 200
            assert windows == [86400.0, 3600.0, None, 30 * 86400.0, 7 * 86400.0]
    finally:
        rt.close()


def test_a_flood_of_health_checks_costs_one_check_a_second(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/healthz needs no token either: twelve at once run the check once, and a check a
    second later runs it again (a stale status lasts at most a second)."""
    migrate(db_url)
    policy = tmp_path / "tags.yaml"
    policy.write_text("roles:\n  hd: {allow: [faq]}\n", encoding="utf-8")
    settings = Settings(policy=policy, embedding_provider="hashing")
    real, calls = handlers.health, []

    def spy(rt: Runtime) -> tuple[bool, dict[str, object]]:
        calls.append(time.monotonic())
        time.sleep(0.2)
        return real(rt)

    monkeypatch.setattr(handlers, "health", spy)
    rt = Runtime(settings, db_url)
    try:
        with TestClient(create_app(rt)) as client, ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(lambda _: client.get("/healthz"), range(12)))
            assert [r.status_code for r in replies] == [200] * 12
            assert len(calls) == 1 and replies[0].json()["database"] == "ok"
            time.sleep(1.1)
            assert client.get("/healthz").status_code == 200
            assert len(calls) == 2
    finally:
        rt.close()


def test_a_costly_window_is_held_even_with_the_cache_off() -> None:
    """With NETDOCS_SERVE_METRICS_CACHE_S=0, a text that took 0.3 s is still reused for
    COST_HOLD x 0.3 s: polling `?since=all` cannot keep a core busy; a cheap one is not."""
    import asyncio

    from netdocs.server.limits import COST_HOLD, MetricsText

    calls: list[float] = []

    def compute(cost: float) -> str:
        calls.append(cost)
        time.sleep(cost)
        return f"text {len(calls)}"

    async def scenario() -> list[str]:
        texts = MetricsText(ttl_s=0)
        out = [await texts.get(None, lambda: compute(0.3)) for _ in range(3)]
        out += [await texts.get(3600.0, lambda: compute(0.0)) for _ in range(2)]
        return out

    started = time.monotonic()
    out = asyncio.run(scenario())
    assert time.monotonic() - started < 0.3 * COST_HOLD  # all within the hold
    assert out[:3] == ["text 1"] * 3 and calls[:1] == [0.3]
    assert out[3:] == ["text 2", "text 3"]  # a cheap window is computed each time
