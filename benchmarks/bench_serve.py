"""`netdocs serve` under load: N concurrent HTTP clients for S seconds, search and extractive
ask, against the configured (already ingested) index. Prints requests, errors, 503s, cache
hits, throughput, p50/p95/p99 per kind, the CPU time spent per answered request (server,
its PostgreSQL backends, the load clients) and the load average.

Starts its own server (``netdocs serve`` on a free port, NETDOCS_LLM_PROVIDER=none) with a
temporary token for --role, revokes the token and stops the server at the end. The query
cache is as shipped (the default settings) unless ``--cache off``. The questions are every
question of eval/questions.yaml, eval/heldout.yaml and eval/heldout-paraphrase.yaml (and
the built-in list below), each client drawing from them with a fixed seed, so a run sees
both cache misses (first asks) and hits (repeats); ``--cold`` marks every question with a
token new to the run, so that holds whatever earlier runs cached. Unless ``--cold`` or
``--no-warmup``, every question is first asked once per kind, 8 at a time, before the clock
starts (not measured; its count of misses and its duration are printed): the measured
minute is then the steady state of a team asking its questions again, the same on a fresh
index as on one earlier runs warmed. A 503 is not an error:
the client waits its Retry-After and asks the same again (counted as "rejected"); the
latencies are those of the answered try, ``p95_with_retries_ms`` counts from the first try,
waits included. The load clients live in ``serve_clients.py``.
``--think-ms`` adds a pause after each answer (people reading it): a lighter workload than
the target's (no pause), to be reported separately.

Usage: python benchmarks/bench_serve.py [--clients 50] [--seconds 60] [--role admin]
       [--kinds search,ask] [--cache default|off] [--think-ms 0] [--seed 13]
       [--client aiohttp|httpx] [--cold] [--no-warmup] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from serve_clients import REPO, questions, run_clients, summary, warm_up  # script's folder

#: The server's pooled connections carry this application_name (see netdocs.server.runtime).
APP_NAME = "netdocs-serve"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _url() -> str:
    from netdocs.config import get_settings
    from netdocs.db import database_url

    return database_url(get_settings())


def _token(role: str) -> tuple[str, str]:
    from netdocs.db import connection
    from netdocs.server.tokens import create_token
    from netdocs.store.schema import migrate

    url = _url()
    migrate(url)
    with connection(url, autocommit=True) as conn:
        info, secret = create_token(conn, "bench", role)
    return info.token_id, secret


def _revoke(token_id: str) -> None:
    from netdocs.db import connection
    from netdocs.server.tokens import revoke_token

    with connection(_url(), autocommit=True) as conn:
        revoke_token(conn, token_id)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc): the server's worker processes."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _server_cpu_s(pid: int) -> float:
    return sum(map(_cpu_s, _tree(pid)))


def _backends() -> list[int]:
    """PIDs of the server's PostgreSQL backends (by application_name)."""
    from netdocs.db import connection

    with connection(_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def _start(port: int, cache: str, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NETDOCS_LLM_PROVIDER": "none"}
    if cache == "off":
        env["NETDOCS_QUERY_CACHE_TTL"] = "0"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netdocs.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=REPO,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not become healthy in 120 s")


def main() -> None:
    """Parse the arguments, run the load, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--role", default="admin")
    p.add_argument("--kinds", default="search,ask")
    p.add_argument("--cache", choices=("default", "off"), default="default")
    p.add_argument("--think-ms", type=float, default=0.0, help="pause after each answer")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    p.add_argument(
        "--cold",
        action="store_true",
        help="mark every question with a token new to this run: the caches start cold "
        "(misses first, hits on repeats) whatever earlier runs stored",
    )
    p.add_argument(
        "--no-warmup",
        action="store_true",
        help="measure from whatever the caches hold (default: ask every question once first)",
    )
    p.add_argument(
        "--client", choices=("httpx", "aiohttp"), default="aiohttp", help="load-client library"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    token_id, token = _token(args.role)
    port = _free_port()
    proc = _start(port, args.cache, args.workers)
    warm: dict[str, Any] | None = None
    try:
        if not (args.cold or args.no_warmup):
            warm = asyncio.run(warm_up(f"http://127.0.0.1:{port}", token, kinds, args.client))
        backends = _backends()
        cpu0 = (_server_cpu_s(proc.pid), sum(map(_cpu_s, backends)), time.process_time())
        load0 = os.getloadavg()
        out = asyncio.run(
            run_clients(
                f"http://127.0.0.1:{port}",
                token,
                args.clients,
                args.seconds,
                kinds,
                args.think_ms / 1000.0,
                args.seed,
                args.client,
                f"run {secrets.token_hex(3)}" if args.cold else "",
            )
        )
        load1 = os.getloadavg()
        new = [b for b in _backends() if b not in backends]  # opened during the run: from 0
        cpu1 = (
            _server_cpu_s(proc.pid),
            sum(map(_cpu_s, backends)) + sum(map(_cpu_s, new)),
            time.process_time(),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        _revoke(token_id)
    result = summary(out, args.seconds)
    done = max(1, sum(r["ok"] for r in result.values()))
    cpu = {
        n: round((b - a) * 1000 / done, 2)
        for n, a, b in zip(("server", "postgres", "clients"), cpu0, cpu1, strict=True)
    }
    result["cpu_ms_per_request"] = cpu
    result["load_avg"] = {"before": round(load0[0], 2), "after": round(load1[0], 2)}
    result["settings"] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "role": args.role,
        "cache": args.cache,
        "workers": args.workers,
        "think_ms": args.think_ms,
        "client": args.client,
        "cold": args.cold,
        "questions": len(questions()),
        "warm_up": warm,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.clients} clients, {args.seconds:.0f} s, role {args.role}, cache {args.cache}, "
        f"{args.workers} server process(es), "
        f"think {args.think_ms:.0f} ms, {len(questions())} questions"
        f"{' (cold)' if args.cold else ''}, {args.client} clients"
    )
    if warm is not None:
        print(
            f"warm-up (not measured): {warm['asked']} asked, {warm['misses']} cache misses, "
            f"{warm['errors']} errors, {warm['seconds']} s"
        )
    for kind in kinds:
        r = result[kind]
        print(
            f"{kind:>6}: {r['ok']} ok ({r['cache_hits']} cache hits), {r['errors']} errors "
            f"{r['error_kinds'] or ''}, {r['rejected_503']} x 503, {r['throughput_rps']} req/s, "
            f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms "
            f"(p95 from the first try, 503 waits included: {r['p95_with_retries_ms']} ms)"
        )
    print(f"CPU ms per answered request: {cpu}; load average {load0[0]:.2f} -> {load1[0]:.2f}")


if __name__ == "__main__":
    main()
