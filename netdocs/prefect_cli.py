"""``netdocs server start|status|stop`` (the local Prefect server) and
``netdocs ingest --deployment`` (a run on the workers instead of in this process)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from netdocs.errors import ConfigError
from netdocs.ingest.stats import PARTIAL

DEFAULT_DEPLOYMENT = "ingest/ingest-hourly"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``server`` subcommand."""
    p = subparsers.add_parser(
        "server", help="the local Prefect server the CLI reuses (start, status, stop)"
    )
    p.add_argument("action", choices=["start", "status", "stop"])
    p.set_defaults(func=cmd_server)


def add_deployment_args(p: argparse.ArgumentParser) -> None:
    """``ingest --deployment [FLOW/NAME] [--wait]``."""
    p.add_argument(
        "--deployment",
        nargs="?",
        const=DEFAULT_DEPLOYMENT,
        metavar="FLOW/NAME",
        help=f"start the run on the workers of this deployment (default {DEFAULT_DEPLOYMENT}) "
        "instead of in this process",
    )
    p.add_argument("--wait", action="store_true", help="with --deployment: wait for the end")


def cmd_server(args: argparse.Namespace) -> int:
    """Start (if needed) and print the UI address, print it if running, or stop the server."""
    from netdocs.config import get_settings
    from netdocs.prefect_local import configured_api, ensure_server, running, stop_server

    settings = get_settings()
    if args.action == "stop":
        print("stopped" if stop_server(settings) else "not running")
        return 0
    if args.action == "start":
        if settings.prefect == "ephemeral":
            raise ConfigError("NETDOCS_PREFECT=ephemeral: no local Prefect server is kept")
        api: str | None = ensure_server(settings)
    else:
        api = running(settings)
    external = configured_api()
    if external and args.action == "status":  # the CLI's runs go there, not to a local one
        print(f"Prefect UI: {external.removesuffix('/api')}  (API {external}, PREFECT_API_URL)")
        return 0
    if api is None:
        print("local Prefect server not running")
        return 1
    print(f"Prefect UI: {api.removesuffix('/api')}  (API {api})")
    return 0


def _split_path(args: argparse.Namespace) -> None:
    """``ingest --deployment /srv/docs``: argparse took the folder as the deployment name."""
    value = str(args.deployment)
    if args.path is None and (value.startswith(("/", ".", "~")) or Path(value).is_dir()):
        args.path, args.deployment = Path(value).expanduser(), DEFAULT_DEPLOYMENT


def ingest_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The flow parameters of a run started on the workers: ``full``, the folder if given,
    and ``only`` only when the user gave ``--only`` (older deployments lack it)."""
    params: dict[str, Any] = {"full": bool(args.full)}
    if args.path is not None:
        params["path"] = str(args.path.resolve())  # as seen from this machine
    if args.policy:
        params["policy"] = str(args.policy.resolve())
    if args.allow_mass_delete:
        params["allow_mass_delete"] = True
    if args.reembed:
        params["reembed"] = True
    only = getattr(args, "only", None)
    if only:
        params["only"] = list(only)
    return params


def run_on_deployment(args: argparse.Namespace) -> int:
    """Create a flow run of the deployment; with ``--wait``, wait for its final state."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from netdocs.config import get_settings
    from netdocs.prefect_local import cli_api

    _split_path(args)
    params = ingest_parameters(args)
    with cli_api(get_settings()) as api:
        if api is None:
            raise ConfigError(
                "--deployment needs a Prefect server with workers: set PREFECT_API_URL "
                "(or NETDOCS_PREFECT=local)"
            )
        try:
            run: FlowRun = run_deployment(  # type: ignore[assignment]
                name=args.deployment,
                parameters=params,
                timeout=None if args.wait else 0,
                poll_interval=2,
            )
        except Exception as e:  # unknown deployment, server refused the parameters
            if type(e).__name__ in ("ObjectNotFound", "ValueError", "PrefectHTTPStatusError"):
                raise ConfigError(f"deployment {args.deployment!r}: {e}") from None
            raise
    state = run.state.name if run.state else "unknown"
    final = bool(run.state and run.state.is_final())
    # a run with failed or pending documents is Completed by the name PARTIAL: exit 1, as
    # `netdocs ingest` without --deployment
    ok = not final or bool(run.state and run.state.is_completed() and state != PARTIAL)
    ui = (api or "").removesuffix("/api")
    out = {
        "flow_run_id": str(run.id),
        "flow_run_name": run.name,
        "deployment": args.deployment,
        "state": state,
        "parameters": params,
        "ui": f"{ui}/runs/flow-run/{run.id}",
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"flow run {run.name} ({run.id}) of {args.deployment}: {state}")
        print(f"  {out['ui']}")
    return 0 if ok else 1
