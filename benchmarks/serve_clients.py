"""The load side of ``bench_serve.py``: the question pool and N closed-loop HTTP clients
(aiohttp or httpx) that post search / ask questions and record latencies, 503s, errors and
cache hits."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

BUILTIN = [
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
EVAL_SETS = ("questions.yaml", "heldout.yaml", "heldout-paraphrase.yaml")


def questions() -> list[str]:
    """The built-in questions plus every question (answerable or not) of the eval sets."""
    out = list(BUILTIN)
    for name in EVAL_SETS:
        data = yaml.safe_load((REPO / "eval" / name).read_text(encoding="utf-8")) or {}
        out += [q["question"] for q in data.get("questions", [])]
        out += [str(q) for q in data.get("unanswerable", [])]
    return list(dict.fromkeys(out))


class _Aiohttp:
    """The few calls the load loop makes, on an aiohttp session (less client CPU than httpx:
    the clients share the 2 cores with the server they measure)."""

    def __init__(self, url: str, headers: dict[str, str], clients: int) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._url = url
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=clients),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def post(self, path: str, json: dict[str, Any]) -> _Reply:
        try:
            async with self._session.post(self._url + path, json=json) as r:
                return _Reply(r.status, dict(r.headers), await r.read())
        except self._aiohttp.ClientError as e:
            raise httpx.TransportError(type(e).__name__) from e

    async def aclose(self) -> None:
        await self._session.close()


class _Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.body = status, body
        self.headers = {k.lower(): v for k, v in headers.items()}

    def json(self) -> Any:
        return json.loads(self.body)


async def _client(
    http: Any,
    rnd: random.Random,
    pool: list[str],
    kinds: list[str],
    until: float,
    think_s: float,
    out: dict[str, dict[str, Any]],
) -> None:
    first: float | None = None  # when this question was first sent (503s are retried)
    kind, body = "", {}
    while time.monotonic() < until:
        if first is None:
            kind = rnd.choice(kinds)
            body = {"question": rnd.choice(pool)}
            first = time.perf_counter()
        started = time.perf_counter()
        try:
            r = await http.post(f"/v1/{kind}", json=body)
        except httpx.HTTPError as e:
            name = type(e).__name__
            out[kind]["errors"].append(f"{name}({e})" if name == "TransportError" else name)
            first = None
            continue
        ms = (time.perf_counter() - started) * 1000.0
        if r.status_code == 503:
            out[kind]["rejected"] += 1
            await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            continue  # the same question again
        e2e = (time.perf_counter() - first) * 1000.0
        first = None
        if r.status_code != 200:
            out[kind]["errors"].append(str(r.status_code))
            continue
        out[kind]["ms"].append(ms)
        out[kind]["e2e"].append(e2e)
        out[kind]["hits"] += bool(r.json().get("cache_hit"))
        if think_s:
            await asyncio.sleep(rnd.uniform(0.5, 1.5) * think_s)


async def run_clients(
    url: str,
    token: str,
    clients: int,
    seconds: float,
    kinds: list[str],
    think_s: float,
    seed: int,
    library: str = "httpx",
    salt: str = "",
) -> Any:
    out = {k: {"ms": [], "e2e": [], "errors": [], "rejected": 0, "hits": 0} for k in kinds}
    pool = questions()
    if salt:
        pool = [f"{q} ({salt})" for q in pool]
    headers = {"Authorization": f"Bearer {token}"}
    http: Any
    if library == "aiohttp":
        http = _Aiohttp(url, headers, clients)
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        http = httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60)
    try:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _client(http, random.Random(seed + i), pool, kinds, until, think_s, out)
                for i in range(clients)
            )
        )
    finally:
        await http.aclose()
    return out


async def warm_up(
    url: str, token: str, kinds: list[str], library: str = "httpx", parallel: int = 8
) -> dict[str, Any]:
    """Ask every question of the pool once per kind, ``parallel`` at a time (503s retried
    after their Retry-After): what a team's first askers do before the same questions come
    back. Returns how many were asked, how many were cache misses, errors and seconds."""
    headers = {"Authorization": f"Bearer {token}"}
    http: Any = (
        _Aiohttp(url, headers, parallel)
        if library == "aiohttp"
        else httpx.AsyncClient(base_url=url, headers=headers, timeout=120)
    )
    todo = [(k, q) for q in questions() for k in kinds]
    gate = asyncio.Semaphore(parallel)
    counts = {"asked": len(todo), "misses": 0, "errors": 0}

    async def ask(kind: str, question: str) -> None:
        async with gate:
            for _ in range(30):
                try:
                    r = await http.post(f"/v1/{kind}", json={"question": question})
                except httpx.HTTPError:
                    counts["errors"] += 1
                    return
                if r.status_code != 503:
                    break
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            if r.status_code != 200:
                counts["errors"] += 1
            elif not r.json().get("cache_hit"):
                counts["misses"] += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(ask(k, q) for k, q in todo))
    finally:
        await http.aclose()
    return {**counts, "seconds": round(time.monotonic() - started, 1)}


def summary(out: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    result = {}
    for kind, d in out.items():
        ms = np.asarray(d["ms"]) if d["ms"] else np.asarray([np.nan])
        e2e = np.asarray(d["e2e"]) if d["e2e"] else np.asarray([np.nan])
        result[kind] = {
            "ok": len(d["ms"]),
            "errors": len(d["errors"]),
            "error_kinds": sorted(set(d["errors"])),
            "rejected_503": d["rejected"],
            "cache_hits": d["hits"],
            "throughput_rps": round(len(d["ms"]) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "p95_with_retries_ms": round(float(np.percentile(e2e, 95)), 1),
        }
    return result
