"""The floor under `bench_serve.py`: the same clients against an app that does no work.

The app has netdocs' request models and routes (``POST /v1/search`` and ``/v1/ask``, body
validated by the same pydantic models, the reply built in a worker thread as netdocs does)
but answers a fixed result of the usual size without touching a database or a model. What
it costs per request is what FastAPI + uvicorn + the load clients cost on this machine,
before netdocs does anything: no configuration of netdocs serve can be faster.

Usage: python benchmarks/bench_serve_floor.py [--clients 50] [--seconds 20]
       [--http auto|h11|httptools] [--loop auto|asyncio|uvloop]
The app itself: ``uvicorn bench_serve_floor:app`` (started by this script).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from netdocs.server.app import AskIn, SearchIn  # noqa: E402

_HIT = {
    "chunk_id": "c" * 64,
    "path": "routing/frr/bgp.md",
    "heading": "BGP > Route reflector",
    "score": 0.5,
    "text": "t" * 400,
}
RESULT: dict[str, Any] = {
    "query_id": "0" * 36,
    "results": [_HIT] * 5,
    "latency_ms": 1.0,
    "cache_hit": True,
}
app = FastAPI()


@app.post("/v1/search")
async def search(body: SearchIn) -> dict[str, Any]:
    """A fixed search result."""
    return await run_in_threadpool(lambda: RESULT)


@app.post("/v1/ask")
async def ask(body: AskIn) -> dict[str, Any]:
    """A fixed answer."""
    return await run_in_threadpool(lambda: {**RESULT, "answer": "a" * 600})


def main() -> None:
    from bench_serve import _cpu_s, _free_port  # the script's folder
    from serve_clients import run_clients, summary

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--http", default="auto")
    p.add_argument("--loop", default="auto")
    args = p.parse_args()
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench_serve_floor:app", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--http", args.http, "--loop", args.loop]
    server = subprocess.Popen(cmd, cwd=HERE)
    try:
        import httpx

        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/v1/search", json={"question": "x"})
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        cpu0, own0 = _cpu_s(server.pid), time.process_time()
        out = asyncio.run(
            run_clients(
                f"http://127.0.0.1:{port}",
                "none",
                args.clients,
                args.seconds,
                ["search", "ask"],
                0.0,
                13,
                "aiohttp",
            )
        )
        cpu1, own1 = _cpu_s(server.pid), time.process_time()
    finally:
        server.terminate()
        server.wait()
    n = max(sum(len(d["ms"]) for d in out.values()), 1)
    figures = summary(out, args.seconds)
    server_ms, clients_ms = 1000 * (cpu1 - cpu0) / n, 1000 * (own1 - own0) / n
    print(
        f"do-nothing app, {args.clients} clients, {args.seconds:g} s, http {args.http}, "
        f"loop {args.loop}: {n / args.seconds:.0f} req/s, server CPU {server_ms:.2f} ms and "
        f"clients {clients_ms:.2f} ms per request; load {os.getloadavg()[0]:.2f}"
    )
    for kind, f in figures.items():
        print(f"  {kind}: {f}")


if __name__ == "__main__":
    main()
