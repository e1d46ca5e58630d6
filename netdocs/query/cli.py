"""``netdocs search`` and ``netdocs ask``. Imports stay lazy: a cold search must start fast.

Text output shows control characters in paths, headings and answers as ``\\xNN`` escapes
(a heading cannot send escape sequences to the terminal); ``--json`` output is JSON-escaped.
Errors are raised as netdocs errors; ``netdocs.cli.main`` turns them into messages and exit
codes (AccessDenied -> 2, listing the roles the policy defines).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from netdocs.safetext import for_terminal


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--role", help="your role (default: NETDOCS_ROLE)")
    p.add_argument("--policy", type=Path, help="access-policy file (default: NETDOCS_POLICY)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def top_k(value: str) -> int:
    """``--k``: an integer from 1 to MAX_K (argparse reports anything else, exit 2)."""
    from netdocs.query.search import MAX_K

    try:
        k = int(value)
    except ValueError:
        k = 0
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {MAX_K}, not {value!r}")
    return k


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``search`` and ``ask`` subcommands."""
    p = subparsers.add_parser("search", help="find the passages that answer a question")
    _common(p)
    p.add_argument("--k", type=top_k, default=5, help="how many results, 1-100 (default 5)")
    p.add_argument(
        "--mode",
        choices=["fused", "dense", "fulltext"],
        default="fused",
        help="retrieval mode (default fused: dense + full text, rank fusion)",
    )
    p.add_argument(
        "--by",
        choices=["chunk", "document"],
        default="chunk",
        help="list passages (default) or documents: path, best heading, score, matching chunks",
    )
    p.set_defaults(func=cmd_search)

    p = subparsers.add_parser("ask", help="answer a question from the docs, with sources")
    _common(p)
    p.add_argument("--k", type=top_k, default=None, help="passages given to the model (1-100)")
    p.set_defaults(func=cmd_ask)


def _service(args: argparse.Namespace) -> Any:
    from netdocs.query.service import SearchService

    return SearchService.for_role(args.role, args.policy)


def _empty_index_note(service: Any) -> None:
    if service.index_model is None:
        print("netdocs: the index is empty: run `netdocs ingest PATH` first", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    """Print the top passages for a question."""
    from netdocs.query.api import run_search

    with _service(args) as service:
        result = run_search(service, args.question, k=args.k, mode=args.mode, by=args.by)
        _empty_index_note(service)
    hits = result.hits
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    _retrieval_notes(result.notes)
    if result.documents is not None:
        if not result.documents:
            print("No matching documents.")
        for i, d in enumerate(result.documents, start=1):
            print(
                f"[{i}] {for_terminal(d.path)} — {for_terminal(d.heading)}  "
                f"(score {d.score:.4f}, {d.chunks} matching chunk{'s' if d.chunks != 1 else ''})"
            )
        return 0
    if not hits:
        print("No matching passages.")
    for i, h in enumerate(hits, start=1):
        print(f"[{i}] {for_terminal(h.path)} — {for_terminal(h.heading)}  (score {h.score:.4f})")
        print(_indent(for_terminal(_clip(h.text, 300))))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question: the configured chat model, or the extractive fallback."""
    from netdocs.query.api import run_ask

    with _service(args) as service:
        result = run_ask(service, args.question, k=args.k)
        _empty_index_note(service)
        _record_breakers(service.conn)
    answer = result.answer
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    _retrieval_notes(result.notes)
    print(for_terminal(answer.answer, multiline=True))
    if answer.mode == "llm" and answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {for_terminal(c.path)} — {for_terminal(c.heading)}")
    tail = (
        f"{answer.model}, {answer.input_tokens}+{answer.output_tokens} tokens"
        + (f", ${answer.cost_usd:.4f}" if answer.cost_usd else "")
        if answer.mode == "llm"
        else "fallback"
    )
    cached = "cached answer; " if result.cache_hit else ""
    low = "; low confidence" + (f": {answer.note}" if answer.note else "")
    if answer.mode == "llm" and answer.low_confidence:
        tail += for_terminal(low)
    print(f"\n({cached}{tail}; {answer.latency_ms:.0f} ms)")
    return 0


def _retrieval_notes(notes: list[str]) -> None:
    """What rerank / rewrite did (or why they fell back), on stderr."""
    for note in notes:
        print(f"netdocs: {for_terminal(note)}", file=sys.stderr)


def _record_breakers(conn: Any) -> None:
    """Best effort: the chat providers' breaker states, for `netdocs status`."""
    from netdocs.resilience import breaker_snapshots
    from netdocs.store.breakers import save_breakers

    try:
        save_breakers(conn, breaker_snapshots())
    except Exception as e:  # a read-only or unmigrated database must not fail the answer
        logging.getLogger(__name__).debug("breaker states not recorded: %s", e)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
