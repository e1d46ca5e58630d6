"""``netdocs feedback``, ``netdocs metrics``, ``netdocs runs`` and ``netdocs report``.

Errors are raised as netdocs errors (an unknown query id or a bad --since is exit 2);
``netdocs.cli.main`` turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from netdocs.cli_support import migrated_url
from netdocs.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the metrics subcommands."""
    p = subparsers.add_parser("feedback", help="say whether an answer helped")
    p.add_argument("query_id", help="the query_id printed by search/ask --json")
    p.add_argument("rating", choices=["helpful", "not_helpful"])
    p.add_argument("--comment", help="free text (at most 2000 characters)")
    p.add_argument("--user", help="who gives the feedback")
    p.set_defaults(func=cmd_feedback)

    p = subparsers.add_parser("metrics", help="query latency, cost, satisfaction vs targets")
    p.add_argument("--since", default="24h", help="window: 30m, 24h, 7d, 2w or all")
    p.add_argument("--role", help="only this role's queries")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--prometheus", action="store_true", help="Prometheus text exposition")
    p.set_defaults(func=cmd_metrics)

    p = subparsers.add_parser("runs", help="ingest runs: outcomes, tokens, cost, stage times")
    p.add_argument("--limit", type=int, default=20, help="how many runs (newest first)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_runs)

    p = subparsers.add_parser("report", help="run the metrics report flow (charts + summary)")
    p.add_argument("--out", type=Path, required=True, help="folder for the charts and report.md")
    p.add_argument("--since", default="24h", help="summary window (default 24h)")
    p.add_argument("--days", type=int, default=14, help="days of history in the charts")
    p.add_argument("--no-png", action="store_true", help="write HTML charts only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_report)


def _since(text: str) -> float | None:
    from netdocs.metrics.summary import parse_since

    try:
        return parse_since(text)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def cmd_feedback(args: argparse.Namespace) -> int:
    """Record a vote on an answer (unknown query id: exit 2)."""
    from netdocs.metrics.feedback import give_feedback

    fb = give_feedback(args.query_id, args.rating, args.comment, user=args.user)
    print(f"recorded: {fb.rating} for query {fb.query_id}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """Print the judged summary (text, JSON or Prometheus exposition)."""
    from netdocs.db import connection
    from netdocs.metrics.store import load_metrics, load_votes
    from netdocs.metrics.summary import report

    seconds = _since(args.since)
    now = datetime.now(UTC)
    since = None if seconds is None else now - timedelta(seconds=seconds)
    with connection(migrated_url()) as conn:
        rows = load_metrics(conn, since, args.role)
        votes = load_votes(conn, since, args.role)
    result = report(rows, votes, since=since, now=now, role=args.role)
    if args.prometheus:
        from netdocs.metrics.prom import exposition

        sys.stdout.write(exposition(rows, votes, result))
    elif args.json:
        print(json.dumps(result))
    else:
        from netdocs.metrics.text import as_text

        print(as_text(result))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """Print the latest ingest runs' metrics."""
    from netdocs.db import connection
    from netdocs.metrics.runs import load_runs, runs_text

    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    with connection(migrated_url()) as conn:
        runs = load_runs(conn, args.limit)
    print(json.dumps(runs) if args.json else runs_text(runs))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Run the metrics-report flow into --out."""
    _since(args.since)
    if args.days < 1:
        raise ConfigError("--days must be at least 1")
    try:  # before the flow starts: a bad --out is a usage error, not a failed run
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {args.out}: cannot create the folder: {e.strerror}") from None
    from netdocs.prefect_local import cli_api, quiet_prefect, silence_engine_logs

    quiet_prefect()
    if not args.verbose:
        silence_engine_logs()
    from flows.report import metrics_report
    from netdocs.config import get_settings

    with cli_api(get_settings()):
        result: dict[str, Any] = metrics_report(
            out_dir=str(args.out), since=args.since, days=args.days, png=not args.no_png
        )
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "summary"}))
    else:
        print(f"report written to {result['out_dir']}")
        for name, paths in result["charts"].items():
            print(f"  {name}: {', '.join(paths)}")
    return 0
