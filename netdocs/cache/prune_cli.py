"""``netdocs cache prune``: drop chunk-embedding cache entries no stored chunk uses."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta


def _age(text: str) -> timedelta:
    from netdocs.embedding.prune import parse_age

    try:
        return parse_age(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_prune(sub: argparse._SubParsersAction) -> None:
    """Add ``prune`` to the ``cache`` group's sub-parsers."""
    p = sub.add_parser("prune", help="drop cache entries whose text no stored chunk holds")
    p.add_argument(
        "--older-than",
        type=_age,
        metavar="AGE",
        help="only entries created longer ago than AGE (7d, 12h, 30m, 45s, 2w)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_cache_prune)


def cmd_cache_prune(args: argparse.Namespace) -> int:
    """Prune unused embedding-cache entries under the ingest lock; print the counts."""
    from netdocs.cli_support import migrated_url
    from netdocs.db import connection
    from netdocs.embedding.prune import prune_cache
    from netdocs.ingest.lock import run_lock

    url = migrated_url()
    with run_lock(url), connection(url) as conn:
        result = prune_cache(conn, args.older_than)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        age = f" older than {args.older_than}" if args.older_than is not None else ""
        print(
            f"pruned {result.deleted} embedding-cache entr{'y' if result.deleted == 1 else 'ies'}"
            f"{age} that no stored chunk uses; {result.kept} kept"
        )
    return 0
