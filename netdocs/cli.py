"""The netdocs command line. Library errors become clear messages and exit codes.

Exit codes: 0 success; 1 some documents failed or a run was refused/locked;
2 bad usage, configuration or access (unknown role); 3 database unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from netdocs.errors import (
    AccessDenied,
    ConfigError,
    DatabaseError,
    MassDeleteRefused,
    NetdocsError,
    RunLocked,
)
from netdocs.safetext import for_terminal

EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (AccessDenied, 2),
    (ConfigError, 2),
    (DatabaseError, 3),
    (MassDeleteRefused, 1),
    (RunLocked, 1),
    (NetdocsError, 1),
]


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _progress_bar() -> tuple[Callable[[str, int], None], Callable[[], None]] | None:
    if not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    docs = bar.add_task("documents", total=None)
    chunks = bar.add_task("chunks embedded", total=None)

    def update(kind: str, n: int) -> None:
        if kind == "total_docs":
            bar.update(docs, total=n)
        elif kind == "docs":
            bar.advance(docs, n)
        elif kind == "chunks":
            bar.advance(chunks, n)

    return update, bar.stop


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run the ingest flow on a folder (in this process, or with --deployment on workers)."""
    if args.deployment:
        _quiet_prefect()
        from netdocs.prefect_cli import run_on_deployment

        return run_on_deployment(args)
    if args.path is None:
        raise ConfigError("ingest: PATH is required (unless --deployment is given)")
    if not args.path.is_dir():
        raise ConfigError(f"{args.path}: not a directory")
    if args.policy:
        from netdocs.policy import load_policy

        load_policy(args.policy)  # a bad policy fails here, naming the field
    from netdocs.ingest.scope import check_patterns

    only = list(check_patterns(args.only)) or None  # a bad pattern fails here, named
    _quiet_prefect()
    from flows.ingest import ingest, set_progress
    from netdocs.config import get_settings
    from netdocs.prefect_local import cli_api

    if not args.verbose:  # the CLI reports failures itself; no engine tracebacks
        for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.events"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    bar = None if args.json else _progress_bar()
    if bar:
        set_progress(bar[0])
    try:
        with cli_api(get_settings()):
            result = ingest(
                path=str(args.path),
                policy=str(args.policy) if args.policy else None,
                full=args.full,
                allow_mass_delete=args.allow_mass_delete,
                reembed=args.reembed,
                only=only,
            )
    finally:
        if bar:
            bar[1]()
            set_progress(None)
    if args.json:
        print(json.dumps(result))
    else:
        _print_ingest(result)
    pending = result.get("rebuild", {}).get("status") == "pending"
    return 1 if result["failed"] or pending else 0


def _print_ingest(r: dict[str, Any]) -> None:
    if r.get("scope"):
        print(f"scope: {for_terminal(', '.join(r['scope']))} (nothing outside it was touched)")
    print(
        f"run {r['run_id']}: {r['scanned']} scanned — {r['new']} new, {r['changed']} changed, "
        f"{r['unchanged']} unchanged, {r['metadata_only']} metadata-only, {r['deleted']} deleted"
    )
    print(
        f"chunks: {r['chunks_embedded']} embedded, {r['embedding_cache_hits']} from cache, "
        f"{r['chunks_reused']} reused, {r['chunks_deleted']} deleted — {r['duration_s']:.1f}s"
    )
    for note in r.get("messages", []):
        print(f"note: {for_terminal(note)}")
    for f in r["failed"]:
        print(f"FAILED {for_terminal(f['path'])}: {for_terminal(f['error'])}", file=sys.stderr)


def cmd_status(args: argparse.Namespace) -> int:
    """Print what the index holds."""
    from netdocs.config import get_settings
    from netdocs.db import connection, database_url
    from netdocs.store.schema import migrate
    from netdocs.store.status import status

    settings = get_settings()
    url = database_url(settings)
    migrate(url)
    with connection(url) as conn:
        result = status(conn, settings.stale_max_age)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "stale":
                print(f"{key:>18}: {for_terminal(str(value))}")
        _print_stale(result["stale"])
    return 0


def _print_stale(stale: list[dict[str, Any]]) -> None:
    for s in stale:
        state = "WITHDRAWN" if s["withdrawn"] else "STALE"
        line = f"{state} {s['path']}: older version served since {s['since']}: {s['reason']}"
        print(for_terminal(line))


def cmd_check(args: argparse.Namespace) -> int:
    """Compare documents with stored chunks; report (and with --repair, fix) drift."""
    from netdocs.config import get_settings
    from netdocs.db import connection, database_url
    from netdocs.ingest.check import check
    from netdocs.ingest.lock import run_lock
    from netdocs.store.schema import migrate

    settings = get_settings()
    url = database_url(settings)
    migrate(url)
    with run_lock(url), connection(url) as conn:
        report = check(conn, repair_drift=args.repair, stale_max_age=settings.stale_max_age)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for d in report.drift:
            where = f"{d.doc_id}: " if d.doc_id else ""
            print(f"DRIFT {d.kind}: {for_terminal(where + d.detail)}")
        for line in report.repaired:
            print(f"REPAIRED {for_terminal(line)}")
        _print_stale(report.to_json()["stale"])
        if not report.drift:
            print("index consistent: no drift")
        elif not args.repair:
            print(f"{len(report.drift)} problem(s); run `netdocs check --repair` to fix them")
    return 0 if report.clean else 1


def cmd_db(args: argparse.Namespace) -> int:
    """``db stop``: stop the embedded PostgreSQL; ``db migrate``: apply the schema."""
    from netdocs.config import get_settings

    if args.action == "migrate":
        from netdocs.db import database_url
        from netdocs.store.schema import migrate

        print(f"schema version {migrate(database_url(get_settings())):03d}")
        return 0
    from netdocs.db import stop_embedded

    print("stopped" if stop_embedded(get_settings()) else "not running")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="netdocs", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="bring the index in step with a folder (also a backfill)")
    p.add_argument("path", type=Path, nargs="?", help="the folder (optional with --deployment)")
    p.add_argument("--policy", type=Path, help="access-policy file (roles, tag rules)")
    p.add_argument("--full", action="store_true", help="re-process every document")
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting more than NETDOCS_MASS_DELETE_RATIO of the index",
    )
    p.add_argument(
        "--reembed",
        action="store_true",
        help="the embedding model changed: build its vectors beside the served ones and "
        "switch when complete (without it such a run is refused)",
    )
    from netdocs.prefect_cli import add_deployment_args

    add_deployment_args(p)  # --deployment [FLOW/NAME], --wait
    p.add_argument(
        "--only",
        action="append",
        metavar="GLOB",
        help="path-scoped backfill: scan, process and delete only documents matching this "
        "glob relative to PATH (e.g. 'routing/**'; a folder name means all beneath it); "
        "repeatable",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", help="what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("check", help="compare documents with stored chunks; report drift")
    p.add_argument("--repair", action="store_true", help="fix the drift found")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("db", help="the database: apply the schema, stop the embedded server")
    p.add_argument("action", choices=["migrate", "stop"])
    p.set_defaults(func=cmd_db)

    from netdocs.query.cli import register  # search / ask

    register(sub)
    from netdocs.audit.cli import register as register_audit
    from netdocs.cache.cli import register as register_cache
    from netdocs.cache.prune_cli import add_prune

    add_prune(register_cache(sub))  # cache stats / clear / prune
    register_audit(sub)
    from netdocs.metrics.cli import register as register_metrics  # feedback/metrics/runs/report

    register_metrics(sub)
    from netdocs.server.cli import register as register_server  # serve / token

    register_server(sub)
    from netdocs.prefect_cli import register as register_prefect  # server start|status|stop

    register_prefect(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, translate errors into messages and exit codes."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except NetdocsError as e:
        print(f"netdocs: error: {for_terminal(str(e), multiline=True)}", file=sys.stderr)
        return next(code for cls, code in EXIT_CODES if isinstance(e, cls))
    except FileNotFoundError as e:
        print(f"netdocs: error: {for_terminal(str(e), multiline=True)}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as e:  # task retries exhausted: the database is down
        print(f"netdocs: error: database unavailable: {str(e).strip()}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("netdocs: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
