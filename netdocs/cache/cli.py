"""``netdocs cache stats`` and ``netdocs cache clear``."""

from __future__ import annotations

import argparse
import json

from netdocs.cli_support import duration_arg, migrated_connection


def register(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add the ``cache`` group; returns its sub-parsers (others may add commands)."""
    p = subparsers.add_parser("cache", help="the query and embedding caches")
    sub = p.add_subparsers(dest="cache_command", required=True)

    s = sub.add_parser("stats", help="entries, size, hit rate per cache; money saved")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_stats)

    c = sub.add_parser("clear", help="delete cached results and/or question embeddings")
    c.add_argument("--older-than", metavar="AGE", help="only entries older than AGE (e.g. 7d)")
    c.add_argument("--kind", choices=["query", "embedding"], help="only this cache")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=cmd_clear)
    return sub


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the cache figures."""
    from netdocs.cache.stats import cache_stats

    with migrated_connection() as conn:
        stats = cache_stats(conn)
    if args.json:
        print(json.dumps(stats))
        return 0
    for name in ("query", "query_embedding", "chunk_embedding"):
        s = stats[name]
        rate = "n/a" if s["hit_rate"] is None else f"{100 * s['hit_rate']:.1f}%"
        print(
            f"{name:>16}: {s['entries']} entries, {s['bytes']} bytes, "
            f"{s['hits']} hits / {s['misses']} misses ({rate})"
        )
    print(f"{'saved':>16}: ${stats['saved_usd']:.4f} of model calls")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    """Delete cache entries."""
    from netdocs.cache.stats import clear

    age = duration_arg(args.older_than, "--older-than")
    with migrated_connection() as conn:
        deleted = clear(conn, age, args.kind)
    if args.json:
        print(json.dumps({"deleted": deleted}))
    else:
        for name, n in deleted.items():
            print(f"{name}: {n} entries deleted")
    return 0
