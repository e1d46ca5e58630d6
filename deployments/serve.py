"""Serve the ingest flow on a schedule from this process (no work pool needed).

    NETDOCS_DOCS_DIR=/srv/docs python deployments/serve.py          # hourly at :07
    NETDOCS_INGEST_CRON="*/15 * * * *" python deployments/serve.py  # another schedule

For many machines use the work-pool deployments in prefect.yaml instead.
Set NETDOCS_DOCS_ROOTS (e.g. to NETDOCS_DOCS_DIR) so that a run started with another
``path`` parameter is refused when the folder lies outside those roots.
"""

from __future__ import annotations

import os

from flows.ingest import ingest


def main() -> None:
    """Register the deployment and run it whenever it is due."""
    docs = os.environ.get("NETDOCS_DOCS_DIR")
    if not docs:
        raise SystemExit("set NETDOCS_DOCS_DIR to the documentation folder to ingest")
    ingest.serve(
        name="ingest-scheduled",
        cron=os.environ.get("NETDOCS_INGEST_CRON", "7 * * * *"),
        parameters={"path": docs, "policy": os.environ.get("NETDOCS_POLICY")},
        global_limit=1,
    )


if __name__ == "__main__":
    main()
