"""``netdocs ingest``: bring the index in step with a folder, in this process or on a
Prefect deployment's workers; a progress bar on a terminal, a summary or JSON at the end."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from netdocs.errors import ConfigError
from netdocs.prefect_local import quiet_prefect
from netdocs.safetext import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``netdocs ingest``."""
    p = subparsers.add_parser(
        "ingest", help="bring the index in step with a folder (also a backfill)"
    )
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
        quiet_prefect()
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
    quiet_prefect()
    from flows.ingest import ingest, set_progress
    from netdocs.config import get_settings
    from netdocs.prefect_local import cli_api, silence_engine_logs

    if not args.verbose:  # the CLI reports failures itself; no engine tracebacks
        silence_engine_logs()

    bar = None if args.json else _progress_bar()
    if bar:
        set_progress(bar[0])
    try:
        with cli_api(get_settings()):
            result = cast(  # the summary (a Partial run's too: its state's result)
                dict[str, Any],
                ingest(
                    path=str(args.path),
                    policy=str(args.policy) if args.policy else None,
                    full=args.full,
                    allow_mass_delete=args.allow_mass_delete,
                    reembed=args.reembed,
                    only=only,
                ),
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
