"""Serve the flows of prefect.yaml on their schedules from this one process (no work pool).

    NETDOCS_DOCS_DIR=/srv/docs NETDOCS_DOCS_ROOTS=/srv/docs NETDOCS_POLICY=/etc/netdocs/tags.yaml \
        python deployments/serve.py
    NETDOCS_INGEST_CRON="*/15 * * * *" ...                     # another ingest schedule

The same deployments as prefect.yaml (ingest-hourly, reconcile-daily, metrics-report-daily),
with the same parameters, schedules and concurrency limit (one run at a time per deployment,
a run due while another runs waits: ENQUEUE). For many machines use the work-pool
deployments in prefect.yaml instead. NETDOCS_DOCS_ROOTS defaults to NETDOCS_DOCS_DIR here,
so a run started with another ``path`` (or ``policy``) parameter is refused. Secrets
(database URL, API keys) come from this process's environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python deployments/serve.py`

from prefect import serve  # noqa: E402
from prefect.client.schemas.objects import (  # noqa: E402
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
)

from flows.ingest import ingest  # noqa: E402
from flows.reconcile import reconcile  # noqa: E402
from flows.report import metrics_report  # noqa: E402

ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def build_deployments(env: dict[str, str] | None = None) -> list[Any]:
    """The three deployments, parameters taken from ``env`` (default: os.environ)."""
    env = dict(os.environ if env is None else env)
    docs, policy = env.get("NETDOCS_DOCS_DIR"), env.get("NETDOCS_POLICY")
    if not docs or not policy:
        raise SystemExit(
            "set NETDOCS_DOCS_DIR (the documentation folder) and NETDOCS_POLICY (its tags.yaml)"
        )
    ingest_params = {"path": docs, "policy": policy, "full": False, "allow_mass_delete": False}
    return [
        ingest.to_deployment(
            name="ingest-hourly",
            cron=env.get("NETDOCS_INGEST_CRON", "7 * * * *"),
            parameters=ingest_params,
            concurrency_limit=ONE_AT_A_TIME,
        ),
        reconcile.to_deployment(
            name="reconcile-daily",
            cron="15 5 * * *",
            parameters={"repair": False},
            concurrency_limit=ONE_AT_A_TIME,
        ),
        metrics_report.to_deployment(
            name="metrics-report-daily",
            cron="30 6 * * *",
            parameters={"since": "24h", "days": 14},
            concurrency_limit=ONE_AT_A_TIME,
        ),
    ]


def confined(env: dict[str, str]) -> dict[str, str]:
    """What the served flows must run with: NETDOCS_DOCS_ROOTS, when unset, is the docs
    folder (fail closed: whoever can start a run must not point it at another folder)."""
    docs = env.get("NETDOCS_DOCS_DIR")
    if docs and not env.get("NETDOCS_DOCS_ROOTS", "").strip():
        return {**env, "NETDOCS_DOCS_ROOTS": docs}
    return env


def main() -> None:
    """Register the deployments and run each whenever it is due."""
    os.environ.update(confined(dict(os.environ)))  # the flows read it in this process
    serve(*build_deployments())


if __name__ == "__main__":
    main()
