"""`netdocs serve` under load: N concurrent HTTP clients for S seconds, search and extractive
ask, against the configured (already ingested) index. Prints requests, errors, 503s,
throughput and p50/p95/p99 per kind.

Starts its own server (``netdocs serve`` on a free port, NETDOCS_LLM_PROVIDER=none, the
query cache off unless --cache) with a temporary token for --role, revokes the token and
stops the server at the end. A 503 is not an error: the client waits its Retry-After and
tries again (counted as "rejected"). Needs NETDOCS_POLICY.

Usage: python benchmarks/bench_serve.py [--clients 50] [--seconds 60] [--role admin]
       [--kinds search,ask] [--cache] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

QUESTIONS = [
    "how do I reload the bgp daemon",
    "bfd timers in frr",
    "configure a route reflector",
    "wireguard peer allowed ips",
    "nftables chain priority",
    "kea dhcp lease database",
    "bind9 dnssec key rollover",
    "chrony clock not synchronising",
    "haproxy health checks",
    "open vswitch qos configuration",
    "radvd prefix advertisement",
    "lldpd neighbours",
    "bird filters introduction",
    "static routes in frr",
    "show bgp neighbors",
    "ipsec tunnel with open vswitch",
    "troubleshooting packet loss with nstat",
    "dns zone transfer access control",
    "dhcp option 82 relay agent",
    "ntp server configuration",
]
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(role: str) -> tuple[str, str]:
    from netdocs.config import get_settings
    from netdocs.db import connection, database_url
    from netdocs.server.tokens import create_token
    from netdocs.store.schema import migrate

    url = database_url(get_settings())
    migrate(url)
    with connection(url, autocommit=True) as conn:
        info, secret = create_token(conn, "bench", role)
    return info.token_id, secret


def _revoke(token_id: str) -> None:
    from netdocs.config import get_settings
    from netdocs.db import connection, database_url
    from netdocs.server.tokens import revoke_token

    with connection(database_url(get_settings()), autocommit=True) as conn:
        revoke_token(conn, token_id)


def _start(port: int, cache: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NETDOCS_LLM_PROVIDER": "none"}
    if not cache:
        env["NETDOCS_QUERY_CACHE_TTL"] = "0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdocs.cli", "serve", "--port", str(port)], env=env, cwd=REPO
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


async def _client(
    http: httpx.AsyncClient, kinds: list[str], until: float, out: dict[str, dict[str, Any]]
) -> None:
    rnd = random.Random()
    while time.monotonic() < until:
        kind = rnd.choice(kinds)
        body = {"question": rnd.choice(QUESTIONS)}
        started = time.perf_counter()
        try:
            r = await http.post(f"/v1/{kind}", json=body)
        except httpx.HTTPError as e:
            out[kind]["errors"].append(type(e).__name__)
            continue
        ms = (time.perf_counter() - started) * 1000.0
        if r.status_code == 503:
            out[kind]["rejected"] += 1
            await asyncio.sleep(float(r.headers.get("retry-after", "1")))
        elif r.status_code == 200:
            out[kind]["ms"].append(ms)
        else:
            out[kind]["errors"].append(str(r.status_code))


async def _run(url: str, token: str, clients: int, seconds: float, kinds: list[str]) -> Any:
    out = {k: {"ms": [], "errors": [], "rejected": 0} for k in kinds}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(http, kinds, until, out) for _ in range(clients)))
    return out


def _summary(out: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    result = {}
    for kind, d in out.items():
        ms = np.asarray(d["ms"]) if d["ms"] else np.asarray([np.nan])
        result[kind] = {
            "ok": len(d["ms"]),
            "errors": len(d["errors"]),
            "error_kinds": sorted(set(d["errors"])),
            "rejected_503": d["rejected"],
            "throughput_rps": round(len(d["ms"]) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
        }
    return result


def main() -> None:
    """Parse the arguments, run the load, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--role", default="admin")
    p.add_argument("--kinds", default="search,ask")
    p.add_argument("--cache", action="store_true", help="keep the query cache on")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    token_id, token = _token(args.role)
    port = _free_port()
    proc = _start(port, args.cache)
    try:
        out = asyncio.run(
            _run(f"http://127.0.0.1:{port}", token, args.clients, args.seconds, kinds)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        _revoke(token_id)
    result = _summary(out, args.seconds)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.clients} clients, {args.seconds:.0f} s, role {args.role}")
    for kind, r in result.items():
        print(
            f"{kind:>6}: {r['ok']} ok, {r['errors']} errors {r['error_kinds'] or ''}, "
            f"{r['rejected_503']} x 503, {r['throughput_rps']} req/s, "
            f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
