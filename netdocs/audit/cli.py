"""``netdocs audit [--since 24h] [--user U] [--role R] [--path GLOB] [--json]`` and
``netdocs audit prune --before DATE``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from netdocs.cli_support import duration_arg, migrated_connection
from netdocs.safetext import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``audit`` command and its ``prune`` subcommand."""
    p = subparsers.add_parser("audit", help="who searched or asked what, and what they saw")
    p.add_argument("--since", metavar="AGE", help="only the last AGE (e.g. 24h, 7d)")
    p.add_argument("--user", help="only this user")
    p.add_argument("--role", help="only this role")
    p.add_argument("--path", metavar="GLOB", help="only accesses that returned a matching path")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_audit)
    sub = p.add_subparsers(dest="audit_command")
    pr = sub.add_parser("prune", help="delete rows older than DATE (leaves a prune record)")
    pr.add_argument("--before", required=True, help="ISO date or time, e.g. 2026-01-01")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.set_defaults(func=cmd_prune)


def cmd_audit(args: argparse.Namespace) -> int:
    """List audit rows."""
    from netdocs.audit.log import query

    since = duration_arg(args.since, "--since")
    with migrated_connection() as conn:
        rows = query(conn, since_s=since, user=args.user, role=args.role, path_glob=args.path)
    if args.json:
        print(json.dumps({"rows": [r.to_json() for r in rows]}, ensure_ascii=False))
        return 0
    for r in rows:
        hit = " (cached)" if r.cache_hit else ""
        # a file name or user may hold control characters: escaped, never written raw
        who = for_terminal(r.user) + (f" as {for_terminal(r.role)}" if r.role else "")
        print(f"{r.at:%Y-%m-%d %H:%M:%S%z} {r.action}{hit} by {who}: {r.question!r}")
        for path in dict.fromkeys(r.paths):
            print(f"    {for_terminal(path)}")
    if not rows:
        print("no matching audit rows")
    return 0


def _parse_date(text: str) -> datetime:
    from netdocs.errors import ConfigError

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        msg = f"--before: expected an ISO date such as 2026-01-31, got {text!r}"
        raise ConfigError(msg) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete audit rows older than --before."""
    from netdocs.audit.log import current_user, prune
    from netdocs.config import get_settings
    from netdocs.errors import ConfigError

    before = _parse_date(args.before)
    if before > datetime.now(UTC):
        raise ConfigError(f"--before: {before.isoformat()} is in the future")
    settings = get_settings()
    with migrated_connection() as conn:
        deleted = prune(conn, before, current_user(settings), settings.role)
    if args.json:
        print(json.dumps({"deleted": deleted, "before": before.isoformat()}))
    else:
        print(f"{deleted} audit rows before {before.isoformat()} deleted (prune recorded)")
    return 0
