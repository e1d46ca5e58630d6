"""Every search and ask through the query entry point writes exactly one metric row (the
built-in post-query hook), here from real CLI processes on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from netdocs.db import connect
from netdocs.embedding.hashing import HashingEmbedder
from netdocs.store.schema import ensure_model, migrate

from ..conftest import REPO
from ..query.conftest import commit_doc


def _cli(url: str, *args: str) -> dict:
    env = {
        **os.environ,
        "NETDOCS_DATABASE_URL": url,
        "NETDOCS_EMBEDDING_PROVIDER": "hashing",
        "NETDOCS_LLM_PROVIDER": "none",
        "NETDOCS_USER": "dora",
    }
    env.pop("NETDOCS_POLICY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "netdocs.cli", *args, "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cli_search_and_ask_write_one_metric_row_each(db_url: str, tmp_path: Path) -> None:
    migrate(db_url)
    emb = HashingEmbedder()
    with connect(db_url, autocommit=True) as conn:
        ensure_model(conn, emb.model_id, emb.dim)
        sections = [("BGP > Timers", "BGP hold timer and keepalive timer defaults.")]
        commit_doc(conn, emb, tmp_path, "routing/bgp.md", ["configs"], sections)  # the writer

    search = _cli(db_url, "search", "bgp hold timer", "--k", "3")
    ask = _cli(db_url, "ask", "what is the bgp keepalive timer")

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT query_id, kind, user_name, result_count, k, embed_ms, fuse_ms"
            " FROM query_metrics ORDER BY ts"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (search["query_id"], "search", "dora"),
        (ask["query_id"], "ask", "dora"),
    ]
    assert rows[0][3] == len(search["results"]) == 1 and rows[0][4] == 3
    # the per-stage timings reach the row (a real search embeds and fuses)
    assert rows[0][5] is not None and rows[0][6] is not None
