"""A throw-away local ``prefect server`` for tests and benchmarks.

Production runs talk to a long-lived server (``prefect server start`` or Prefect Cloud, via
``PREFECT_API_URL``); this starts one on a free port with its own ``PREFECT_HOME``, waits for
``/health`` and stops it afterwards.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(api: str, timeout: float = 2.0) -> bool:
    """True when a Prefect server answers on ``api``."""
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


#: Never handed to the long-lived Prefect server, which needs none of netdocs' secrets.
_SECRET = re.compile(r"(^NETDOCS_|_API_KEY$|SECRET|PASSWORD|TOKEN|^PG|DATABASE_URL)", re.I)


def server_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """This process's environment for ``prefect server start`` with ``home`` as its
    PREFECT_HOME on ``port``: no analytics, no inherited PREFECT_API_URL, and none of this
    process's secrets (provider keys, database URLs, netdocs settings)."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k.startswith("PREFECT_") or not _SECRET.search(k)  # Prefect's own: kept
        },
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        **extra,
    }
    env.pop("PREFECT_API_URL", None)
    return env


def server_command(port: int) -> list[str]:
    """``prefect server start`` on 127.0.0.1:``port`` with this interpreter."""
    return [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def wait_healthy(api: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the server of ``proc`` answers on ``api``; False once it has exited or
    ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not healthy(api):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


@contextmanager
def local_server(home: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Run ``prefect server start`` with ``home`` as its PREFECT_HOME; yield its API URL.

    The server's output goes to ``home/server.log``, quoted in the error if it fails to start.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(home, port, PREFECT_UI_ENABLED="false")
    log = home / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            server_command(port),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            api = f"http://127.0.0.1:{port}/api"
            if not wait_healthy(api, proc, timeout):
                raise RuntimeError(f"prefect server did not start:\n{log.read_text()[-4000:]}")
            yield api
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
