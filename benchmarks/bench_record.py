"""What writing a query-metric row costs the answer (a script that prints figures).

Creates a scratch database on the configured server (NETDOCS_DATABASE_URL, or the embedded
PostgreSQL under NETDOCS_HOME), migrates it, then times ``record_query`` N times each way:
  1. by URL (the hook's path: this process's cached autocommit connection);
  2. on a caller's autocommit connection;
  3. ``metric_from`` + ``record_query`` by URL (what the post-query hook does);
and once the first call by URL (it opens the connection). Drops the database afterwards.

Usage: python benchmarks/bench_record.py [--n 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from netdocs.config import get_settings
from netdocs.metrics.hook import metric_from
from netdocs.metrics.record import QueryMetric, close_connections, record_query
from netdocs.query.results import Hit
from netdocs.store.schema import migrate

HITS = [Hit(f"c{i}", f"doc{i}.md", "H", "text", 0.1, cosine=0.6) for i in range(5)]


def _stats(samples: list[float]) -> dict[str, float]:
    xs = sorted(samples)
    return {
        "p50_ms": round(statistics.median(xs), 3),
        "p95_ms": round(xs[int(0.95 * (len(xs) - 1))], 3),
        "max_ms": round(xs[-1], 3),
    }


def _time(n: int, call: Callable[[], object]) -> dict[str, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return _stats(samples)


def _metric() -> QueryMetric:
    return QueryMetric(kind="ask", role="helpdesk", latency_ms=12.5, embed_ms=4.0, k=5)


def main() -> None:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from netdocs.db import database_url

    server = database_url(get_settings())
    name = f"bench_record_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    info = psycopg.conninfo.conninfo_to_dict(server)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})
    results: dict[str, Any] = {"n": args.n}
    try:
        migrate(url)
        started = time.perf_counter()
        record_query(url, _metric())
        results["first_call_by_url_ms"] = round((time.perf_counter() - started) * 1000, 3)
        results["by_url"] = _time(args.n, lambda: record_query(url, _metric()))
        with psycopg.connect(url, autocommit=True) as conn:
            results["on_connection"] = _time(args.n, lambda: record_query(conn, _metric()))

        def hook() -> None:
            m = metric_from(query_id="", kind="search", latency_ms=9.0, hits=HITS, k=5)
            record_query(url, m)

        results["hook_by_url"] = _time(args.n, hook)
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT count(*) FROM query_metrics").fetchone()
        results["rows"] = rows[0] if rows else 0
    finally:
        close_connections()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
