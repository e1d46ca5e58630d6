"""The netdocs command line. Library errors become clear messages and exit codes.

Exit codes: 0 success; 1 some documents failed or a run was refused/locked;
2 bad usage, configuration or access (unknown role); 3 database unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import psycopg

from netdocs.cli_support import migrated_url
from netdocs.errors import (
    AccessDenied,
    BadQuestion,
    ConfigError,
    DatabaseError,
    MassDeleteRefused,
    NetdocsError,
    RunLocked,
)
from netdocs.safetext import for_terminal

EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (AccessDenied, 2),
    (BadQuestion, 2),
    (ConfigError, 2),
    (DatabaseError, 3),
    (MassDeleteRefused, 1),
    (RunLocked, 1),
    (NetdocsError, 1),
]


def cmd_status(args: argparse.Namespace) -> int:
    """Print what the index holds."""
    from netdocs.config import get_settings
    from netdocs.db import connection
    from netdocs.store.status import status

    settings = get_settings()
    with connection(migrated_url(settings)) as conn:
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
    from netdocs.db import connection
    from netdocs.ingest.check import check
    from netdocs.ingest.lock import run_lock

    settings = get_settings()
    url = migrated_url(settings)
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

    from netdocs.ingest.cli import register as register_ingest

    register_ingest(sub)

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
