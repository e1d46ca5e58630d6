"""Wall time of a no-change `netdocs ingest` from a cold CLI process, with the reused local
Prefect server (NETDOCS_PREFECT=local) vs Prefect's temporary server (NETDOCS_PREFECT=ephemeral).

Usage: python benchmarks/bench_cli_noop.py [DOCS] [--rounds 3]
(DOCS defaults to examples/sample-docs; hashing embeddings unless NETDOCS_EMBEDDING_PROVIDER
is set). Everything runs in a temporary NETDOCS_HOME (embedded PostgreSQL, local Prefect
server), stopped and removed at the end. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netdocs.config import Settings  # noqa: E402
from netdocs.db import stop_embedded  # noqa: E402
from netdocs.prefect_local import stop_server  # noqa: E402


def ingest(env: dict[str, str], docs: Path, mode: str) -> tuple[dict[str, Any], float]:
    """One CLI ingest in ``mode``; its JSON summary and wall time."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "netdocs.cli", "ingest", str(docs), "--json"],
        env={**env, "NETDOCS_PREFECT": mode},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"ingest ({mode}) exited {out.returncode}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="?", type=Path, default=REPO / "examples" / "sample-docs")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-cli-noop-"))
    home.chmod(0o755)  # the embedded PostgreSQL may run as another user
    env = {
        **os.environ,
        "NETDOCS_HOME": str(home),
        "PREFECT_HOME": str(home / "prefect-client"),
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    env.setdefault("NETDOCS_EMBEDDING_PROVIDER", "hashing")
    # Prefect gives its temporary server 20 s to start: on a busy host that is too short.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    try:
        _, first = ingest(env, args.docs, "local")  # starts the database and the server
        wall: dict[str, list[float]] = {"local": [], "ephemeral": []}
        flow: dict[str, list[float]] = {"local": [], "ephemeral": []}
        for _ in range(args.rounds):
            for mode in ("local", "ephemeral"):
                summary, seconds = ingest(env, args.docs, mode)
                assert summary["new"] == summary["changed"] == 0, summary
                wall[mode].append(seconds)
                flow[mode].append(summary["duration_s"])
        print(
            json.dumps(
                {
                    "docs": str(args.docs),
                    "first_run_with_server_start_s": round(first, 2),
                    **{
                        f"{mode}_wall_s_median": round(statistics.median(v), 2)
                        for mode, v in wall.items()
                    },
                    **{
                        f"{mode}_flow_s_median": round(statistics.median(v), 2)
                        for mode, v in flow.items()
                    },
                    "wall_s": {k: [round(x, 2) for x in v] for k, v in wall.items()},
                    "load_average": os.getloadavg(),
                }
            )
        )
    finally:
        settings = Settings(home=home)
        stop_server(settings)
        stop_embedded(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
