"""`/metrics` needs no token, so what one caller can make it cost is bounded: the text of a
window is computed by one request at a time and reused for NETDOCS_SERVE_METRICS_CACHE_S."""

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


def test_spellings_of_one_minute_share_one_computation(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
            spellings = [f"{24 + i * 0.0001:.4f}h" for i in range(20)]  # 86400 s to +6.84 s
            assert len(set(spellings)) == 20
            for since in spellings:
                assert client.get(f"/metrics?since={since}").status_code == 200
            assert windows == [86400.0]  # one computation for all twenty
            assert client.get("/metrics?since=0.001m").status_code == 200  # at least a minute
            assert client.get("/metrics?since=all").status_code == 200
            assert windows == [86400.0, 60.0, None]
    finally:
        rt.close()
