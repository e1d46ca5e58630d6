"""Query metrics on a real PostgreSQL: rows written through ``record_query``, votes through
``give_feedback``, and every figure of ``netdocs metrics --json`` / ``--prometheus``
checked against values computed here from the raw rows (numpy percentiles, type 7)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from netdocs.metrics.feedback import RATINGS, UnknownQuery, give_feedback
from netdocs.metrics.record import QueryMetric, close_connections, record_query
from netdocs.store.schema import migrate
from tests.conftest import REPO

ROLES = ["admin", "network_engineer", "security_engineer", "helpdesk", None]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``netdocs ARGS`` in a subprocess, against this test's database (env)."""
    return subprocess.run(
        [sys.executable, "-m", "netdocs.cli", *args],
        env={**os.environ},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _generate(url: str, n_recent: int = 160, n_old: int = 20) -> dict[str, Any]:
    """Insert metric rows (recent ones inside the last 24 h, old ones outside) and votes;
    return the raw data the test keeps for itself."""
    rng = random.Random(12)
    now = datetime.now(UTC)
    recent, old = [], []
    with psycopg.connect(url) as conn:  # half through a connection, half through the URL
        for i in range(n_recent + n_old):
            is_old = i >= n_recent
            age = rng.uniform(25, 47) if is_old else rng.uniform(0.05, 23.0)
            ask = rng.random() < 0.6
            m = QueryMetric(
                ts=now - timedelta(hours=age),
                kind="ask" if ask else "search",
                role=rng.choice(ROLES),
                latency_ms=rng.lognormvariate(5.5, 1.3),
                embed_ms=rng.uniform(1, 8),
                dense_ms=rng.uniform(1, 20),
                fulltext_ms=rng.uniform(1, 20),
                fuse_ms=rng.uniform(0, 1),
                generate_ms=rng.uniform(100, 4000) if ask else None,
                result_count=(count := rng.choice([0, 0, 3, 5, 5, 5])),
                empty=count == 0,
                low_confidence=rng.random() < 0.2,
                cache_hit=rng.random() < 0.25,
                mode=rng.choice(["llm", "fallback"]) if ask else None,
                input_tokens=rng.randint(500, 3000) if ask else 0,
                output_tokens=rng.randint(20, 400) if ask else 0,
                cost_usd=rng.uniform(0.001, 0.02) if ask else None,
                k=5,
            )
            assert record_query(url if i % 2 else conn, m)
            (old if is_old else recent).append(m)
        conn.commit()
    votes: dict[str, bool] = {}
    with psycopg.connect(url) as conn:
        for m in rng.sample(recent + old, (len(recent) + len(old)) // 2):
            first = rng.random() < 0.7
            give_feedback(m.query_id, "helpful" if first else "not_helpful", "1st", conn=conn)
            if rng.random() < 0.3:  # a changed mind: the later vote counts
                give_feedback(m.query_id, "not_helpful" if first else "helpful", conn=conn)
                first = not first
            votes[m.query_id] = first
    close_connections()
    return {"recent": recent, "old": old, "votes": votes}


def _expected(rows: list[QueryMetric], votes: dict[str, bool], hours: float) -> dict[str, Any]:
    lat = np.array([m.latency_ms for m in rows])
    rated = [votes[m.query_id] for m in rows if m.query_id in votes]
    return {
        "queries": len(rows),
        "queries_per_hour": len(rows) / hours,
        "avg_latency_ms": float(np.mean(lat)),
        "p50_latency_ms": float(np.percentile(lat, 50)),
        "p95_latency_ms": float(np.percentile(lat, 95)),
        "p99_latency_ms": float(np.percentile(lat, 99)),
        "input_tokens": sum(m.input_tokens for m in rows),
        "output_tokens": sum(m.output_tokens for m in rows),
        "cost_usd": sum(m.cost_usd or 0 for m in rows),
        "votes": len(rated),
        "satisfaction": sum(rated) / len(rated) if rated else None,
        "cache_hit_rate": sum(m.cache_hit for m in rows) / len(rows),
        "empty_rate": sum(m.result_count == 0 for m in rows) / len(rows),
        "low_confidence_rate": sum(m.low_confidence for m in rows) / len(rows),
    }


def _judge_latency(avg: float, p95: float) -> tuple[str, str]:
    a = "ok" if avg < 3000 else "red_flag" if avg > 10000 else "warning"
    b = "ok" if p95 < 8000 else "red_flag" if p95 > 20000 else "warning"
    return a, b


def _check(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9), key
    assert (got["judgments"]["avg_latency_ms"], got["judgments"]["p95_latency_ms"]) == (
        _judge_latency(want["avg_latency_ms"], want["p95_latency_ms"])
    )


def test_metrics_json_matches_the_raw_rows(db_url: str) -> None:
    migrate(db_url)
    data = _generate(db_url)
    recent, votes = data["recent"], data["votes"]

    res = cli("metrics", "--since", "24h", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    _check(out["overall"], _expected(recent, votes, 24.0))
    for role in ROLES:
        mine = [m for m in recent if m.role == role]
        _check(out["by_role"][role or "(none)"], _expected(mine, votes, 24.0))

    res = cli("metrics", "--since", "all", "--role", "helpdesk", "--json")
    out = json.loads(res.stdout)
    mine = [m for m in recent + data["old"] if m.role == "helpdesk"]
    assert list(out["by_role"]) == ["helpdesk"]
    assert out["overall"]["queries"] == len(mine)
    assert out["overall"]["p99_latency_ms"] == pytest.approx(
        float(np.percentile([m.latency_ms for m in mine], 99))
    )

    text = cli("metrics")  # the terminal form shows the judged figures
    assert text.returncode == 0 and "p95 latency (ms)" in text.stdout
    assert "role network_engineer" in text.stdout


def test_prometheus_exposition_parses_with_the_right_counts(db_url: str) -> None:
    migrate(db_url)
    data = _generate(db_url, n_recent=60, n_old=5)
    recent, votes = data["recent"], data["votes"]
    res = cli("metrics", "--since", "24h", "--prometheus")
    assert res.returncode == 0, res.stderr
    families = {f.name: f for f in text_string_to_metric_families(res.stdout)}
    assert families["netdocs_queries"].type == "counter"
    assert families["netdocs_query_latency_seconds"].type == "histogram"

    queries = families["netdocs_queries"].samples
    total = sum(s.value for s in queries if s.name == "netdocs_queries_total")
    assert total == len(recent)
    asks = sum(
        s.value for s in queries if s.name == "netdocs_queries_total" and s.labels["kind"] == "ask"
    )
    assert asks == sum(m.kind == "ask" for m in recent)

    hist = families["netdocs_query_latency_seconds"].samples
    for role in ROLES:
        label = role or "(none)"
        mine = [m.latency_ms / 1000 for m in recent if m.role == role]
        count = [s for s in hist if s.name.endswith("_count") and s.labels["role"] == label]
        assert count[0].value == len(mine)
        total_s = [s for s in hist if s.name.endswith("_sum") and s.labels["role"] == label]
        assert total_s[0].value == pytest.approx(sum(mine))
        bucket = [
            s
            for s in hist
            if s.name.endswith("_bucket") and s.labels["role"] == label and s.labels["le"] == "0.5"
        ]
        assert bucket[0].value == sum(1 for x in mine if x <= 0.5)

    stages = families["netdocs_query_stage_seconds"].samples
    generate = [s for s in stages if s.name.endswith("_count") and s.labels["stage"] == "generate"]
    assert generate[0].value == sum(m.generate_ms is not None for m in recent)

    rated = [votes[m.query_id] for m in recent if m.query_id in votes]
    fb = {
        s.labels["rating"]: s.value
        for s in families["netdocs_feedback"].samples
        if s.name == "netdocs_feedback_total"
    }
    assert fb == {"helpful": sum(rated), "not_helpful": len(rated) - sum(rated)}
    tokens = [s for s in families["netdocs_llm_tokens"].samples if s.name.endswith("_total")]
    assert sum(s.value for s in tokens if s.labels["direction"] == "input") == sum(
        m.input_tokens for m in recent
    )
    p95 = [s for s in families["netdocs_p95_latency_ms"].samples if s.labels["role"] == "(all)"]
    assert p95[0].value == pytest.approx(np.percentile([m.latency_ms for m in recent], 95))


def test_feedback_unknown_query_is_exit_2(db_url: str) -> None:
    migrate(db_url)
    m = QueryMetric(latency_ms=12.0, role="helpdesk")
    assert record_query(db_url, m)
    close_connections()
    with pytest.raises(UnknownQuery, match="no-such-id"):
        give_feedback("no-such-id", "helpful")

    res = cli("feedback", "no-such-id", "helpful")
    assert res.returncode == 2 and "no-such-id" in res.stderr
    res = cli("feedback", m.query_id, "sideways")
    assert res.returncode == 2  # not a rating
    res = cli("feedback", m.query_id, "not_helpful", "--comment", "wrong port number")
    assert res.returncode == 0, res.stderr
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT query_id, rating, comment FROM query_feedback").fetchall()
    assert rows == [(m.query_id, "not_helpful", "wrong port number")]


def test_record_query_never_raises(db_url: str, make_db: Any) -> None:
    m = QueryMetric(latency_ms=1.0)
    unmigrated = make_db()  # no query_metrics table
    assert record_query(unmigrated, m) is False
    assert record_query("postgresql://nobody@127.0.0.1:1/none", m) is False  # nothing listens
    migrate(db_url)
    with psycopg.connect(db_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        assert record_query(conn, m) is False  # the caller's transaction is aborted
        conn.rollback()
        assert record_query(conn, m) is True
        conn.commit()
        assert record_query(conn, m) is True  # the same id again: ignored, not an error
        bad = QueryMetric(latency_ms=float("nan"), result_count=2**40)  # out of integer range
        assert record_query(conn, bad) is False
        n = conn.execute("SELECT count(*) FROM query_metrics").fetchone()
    assert n == (1,)
    close_connections()


def test_votes_per_query_are_bounded_and_the_last_one_counts(db_url: str) -> None:
    """A loop of votes on one query stops at MAX_VOTES_PER_QUERY (no unbounded rows of
    2,000-character comments); another query is not affected."""
    from netdocs.metrics.feedback import MAX_VOTES_PER_QUERY, TooManyVotes

    migrate(db_url)
    m, other = QueryMetric(latency_ms=12.0, role="helpdesk"), QueryMetric(latency_ms=9.0)
    assert record_query(db_url, m) and record_query(db_url, other)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i in range(MAX_VOTES_PER_QUERY):
            give_feedback(m.query_id, RATINGS[i % 2], "x" * 2000, conn=conn)
        with pytest.raises(TooManyVotes, match=str(MAX_VOTES_PER_QUERY)):
            give_feedback(m.query_id, "helpful", conn=conn)
        give_feedback(other.query_id, "helpful", conn=conn)
        counts = dict(
            conn.execute(
                "SELECT query_id, count(*) FROM query_feedback WHERE query_id = ANY(%s)"
                " GROUP BY query_id",
                ([m.query_id, other.query_id],),
            )
        )
    assert counts == {m.query_id: MAX_VOTES_PER_QUERY, other.query_id: 1}
