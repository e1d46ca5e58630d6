"""The Prefect server the CLI reuses, like the embedded database.

With no ``PREFECT_API_URL`` and ``NETDOCS_PREFECT=local`` (the default), the first CLI command
that runs a flow starts ``prefect server start`` detached, with its own ``PREFECT_HOME``
(``NETDOCS_HOME/prefect``) on a port chosen once and kept in ``NETDOCS_HOME/prefect/server.json``;
later commands find it by its ``/health`` endpoint. A file lock makes two CLIs starting at
once share one server. ``netdocs server stop`` stops it. ``NETDOCS_PREFECT=ephemeral`` keeps
Prefect's own temporary server per command (its runs vanish with it).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netdocs.config import Settings
from netdocs.devserver import free_port, healthy, server_command, server_env, wait_healthy

START_TIMEOUT_S = 180.0  # a first start migrates a new SQLite database; slow on a busy host


def quiet_prefect() -> None:
    """No analytics, Prefect's own logs at WARNING (call before Prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def silence_engine_logs() -> None:
    """No flow and task engine logs, for a CLI that reports failures itself (call after
    Prefect is imported: its logging set-up would reset the levels)."""
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.events"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def prefect_home(settings: Settings) -> Path:
    """The local server's PREFECT_HOME."""
    return settings.home / "prefect"


def _state_file(settings: Settings) -> Path:
    return prefect_home(settings) / "server.json"


def _read_state(settings: Settings) -> dict[str, int]:
    try:
        data = json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in data.items() if k in ("port", "pid") and isinstance(v, int)}


def _write_state(settings: Settings, state: dict[str, int]) -> None:
    path = _state_file(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def api_url(port: int) -> str:
    """The API URL of a server on ``port`` (the UI is the same address without ``/api``)."""
    return f"http://127.0.0.1:{port}/api"


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return "\nState:\tZ" not in status


def running(settings: Settings) -> str | None:
    """The API URL of the local server if it answers, else None."""
    port = _read_state(settings).get("port")
    return api_url(port) if port and healthy(api_url(port)) else None


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    home = prefect_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _port(settings: Settings, recorded: int | None) -> int:
    if settings.prefect_port:
        return settings.prefect_port
    if recorded:
        try:
            import socket

            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
                s.bind(("127.0.0.1", recorded))
            return recorded  # the port this home used before, still free
        except OSError:
            pass
    return free_port()


def ensure_server(settings: Settings) -> str:
    """The API URL of the local server, started (detached) if it is not running."""
    api = running(settings)
    if api:
        return api
    with _locked(settings):
        api = running(settings)  # another CLI may have started it while we waited
        if api:
            return api
        state = _read_state(settings)
        port = _port(settings, state.get("port"))
        home = prefect_home(settings)
        env = server_env(
            home,
            port,
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_UI_API_URL=api_url(port),  # else the UI calls port 4200
        )
        with open(home / "server.log", "ab") as log:
            proc = subprocess.Popen(
                server_command(port),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this CLI, stopped as a process group
                cwd=home,
            )
        _write_state(settings, {"port": port, "pid": proc.pid})
        api = api_url(port)
        if not wait_healthy(api, proc, START_TIMEOUT_S):
            _kill_group(proc.pid)
            tail = (home / "server.log").read_text(errors="replace")[-2000:]
            from netdocs.errors import ConfigError

            raise ConfigError(
                f"the local Prefect server did not start on port {port} "
                f"(log {home / 'server.log'}):\n{tail}"
            )
        print(f"netdocs: Prefect server started, UI on {api[:-4]}", file=sys.stderr, flush=True)
        return api


def _kill_group(pid: int, grace: float = 20.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except OSError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.2)


def _is_prefect_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the recorded pid
    return b"prefect" in cmdline and b"server" in cmdline and b"start" in cmdline


def stop_server(settings: Settings) -> bool:
    """Stop the local server; False if it was not running. The port stays recorded."""
    with _locked(settings):
        state = _read_state(settings)
        pid = state.pop("pid", None)
        if not pid or not alive(pid) or not _is_prefect_server(pid):
            return False  # gone (its pid may belong to another program by now)
        _kill_group(pid)
        _write_state(settings, state)
        return True


def configured_api() -> str | None:
    """The API URL Prefect is configured with (env, profile or a test harness), if any."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


@contextmanager
def cli_api(settings: Settings) -> Iterator[str | None]:
    """Run the body against the configured Prefect API, else the reused local server
    (``NETDOCS_PREFECT=local``), else Prefect's temporary server (yields None)."""
    configured = configured_api()
    if configured or settings.prefect == "ephemeral":
        yield configured
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api = ensure_server(settings)
    with temporary_settings({PREFECT_API_URL: api}):
        yield api
