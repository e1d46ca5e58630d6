"""Ingest run metrics: pricing a run's embedding tokens, and reading runs back."""

from __future__ import annotations

from typing import Any

import psycopg

from netdocs.config import Settings
from netdocs.ingest.stats import RunStats
from netdocs.metrics.prices import embedding_cost

OUTCOMES = ("new", "changed", "unchanged", "metadata_only", "deleted", "quarantined")


def price_run(stats: RunStats, model_id: str, settings: Settings) -> None:
    """Fill the run's embedding model, cost and savings (None costs for unpaid models)."""
    stats.embedding_model = model_id
    stats.saved_tokens = stats.cache_saved_tokens + stats.reused_tokens
    stats.embedding_cost_usd = embedding_cost(settings, model_id, stats.embedding_tokens)
    stats.saved_cost_usd = embedding_cost(settings, model_id, stats.saved_tokens)


def run_summary(row: tuple[Any, ...]) -> dict[str, Any]:
    """One ``netdocs runs --json`` entry from (run_id, started, finished, status, source,
    stats)."""
    run_id, started, finished, status, source, stats = row
    s: dict[str, Any] = stats or {}
    failed = s.get("failed") or []
    documents = {k: s.get(k, 0) for k in OUTCOMES}
    documents["failed"] = len(failed) if isinstance(failed, list) else failed
    return {
        "run_id": str(run_id),
        "started_at": started.isoformat() if started else None,
        "finished_at": finished.isoformat() if finished else None,
        "status": status,
        "source": source,
        "duration_s": s.get("duration_s"),
        "documents": documents,
        "chunks_embedded": s.get("chunks_embedded", 0),
        "chunks_reused": s.get("chunks_reused", 0),
        "chunks_deleted": s.get("chunks_deleted", 0),
        "embedding_cache_hits": s.get("embedding_cache_hits", 0),
        "embedding_model": s.get("embedding_model"),
        "embedding_tokens": s.get("embedding_tokens", 0),
        "embedding_cost_usd": s.get("embedding_cost_usd"),
        "saved_tokens": s.get("saved_tokens", 0),
        "saved_cost_usd": s.get("saved_cost_usd"),
        "stages_s": s.get("phases", {}),
        "scope": s.get("scope", []),  # a path-scoped backfill's globs ([] = everything)
    }


def load_runs(conn: psycopg.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The latest ``limit`` ingest runs, newest first."""
    rows = conn.execute(
        "SELECT run_id, started_at, finished_at, status, source, stats FROM runs"
        " ORDER BY started_at DESC, run_id LIMIT %s",
        (limit,),
    ).fetchall()
    return [run_summary(r) for r in rows]


def runs_text(runs: list[dict[str, Any]]) -> str:
    """A plain-text table of runs for the terminal."""
    if not runs:
        return "no ingest runs recorded"
    lines = []
    for r in runs:
        d = r["documents"]
        cost = r["embedding_cost_usd"]
        lines.append(
            f"{r['started_at'][:19]}  {r['status']:<9} {r['run_id'][:8]}  "
            f"{(r['duration_s'] or 0):7.1f}s  docs +{d['new']} ~{d['changed']} "
            f"={d['unchanged']} -{d['deleted']} !{d['failed']}  chunks {r['chunks_embedded']} "
            f"embedded / {r['chunks_reused']} reused  tokens {r['embedding_tokens']} "
            f"(saved {r['saved_tokens']})" + (f"  ${cost:.6f}" if cost is not None else "")
        )
        if r["stages_s"]:
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
            lines.append(f"    stages (s): {stages}")
    return "\n".join(lines)
