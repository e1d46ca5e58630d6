"""Hybrid search: dense and full-text candidates, access control in SQL, rank fusion."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import psycopg

from netdocs.query import sql as q
from netdocs.query.fusion import RRF_K, fuse
from netdocs.query.pending import PendingVector
from netdocs.query.results import Hit
from netdocs.query.tagshare import cached_share
from netdocs.query.terms import HEADING_BONUS, TermPlan, cached_stats, plan_terms, quote_lexeme
from netdocs.query.timing import timed
from netdocs.safetext import storable
from netdocs.store import role_indexes

log = logging.getLogger(__name__)

# The ranking statements run with prepare=False: a prepared statement soon switches to a
# generic plan, which cannot see how selective the tag filter or the query terms are and
# picked plans 10x slower (a tag-index scan sorting every permitted row) in measurements.

Mode = Literal["fused", "dense", "fulltext"]
MODES: tuple[Mode, ...] = ("fused", "dense", "fulltext")

#: At most this many permitted chunks -> exact scan instead of the HNSW index.
EXACT_SCAN_BELOW = 2000
MIN_CANDIDATES = 20
MIN_EF_SEARCH = 64
#: A role index (netdocs.store.role_indexes) holds only permitted chunks, so no widening for
#: the filter is needed; but its graph is small (at most a quarter of the chunks), so a deep
#: candidate list is cheap: ef as for a 10 %-visible filter (400 for k = 5) took recall@20
#: under `helpdesk` at 20,000 documents from 0.86 (ef 64) to 0.99 for +1 ms (p95 dense 4.4 ms).
ROLE_INDEX_SHARE = 0.1
#: pgvector refuses hnsw.ef_search outside 1..1000.
MAX_EF_SEARCH = 1000
#: The largest top-k the CLI accepts (the library accepts more; ef_search stays bounded).
MAX_K = 100
#: Default of NETDOCS_STALE_MAX_AGE: older stale versions are withdrawn from results.
DEFAULT_STALE_MAX_AGE = timedelta(days=7)


def candidates_for(k: int) -> int:
    """How many candidates each list contributes to the fusion for a final top ``k``.

    Deeper lists add noise: with a large RRF k, chunks ranked ~30th in both lists outscore a
    chunk ranked first in one. Twice k, at least 20, keeps the top 5 of k=5 and k=10 identical.
    """
    return max(2 * k, MIN_CANDIDATES)


def ef_search(n: int, share: float = 1.0) -> int:
    """The HNSW candidate-list size for ``n`` rows when ``share`` of the chunks pass the tag
    filter: twice n divided by the share, within pgvector's 1..1000 (at least 64).

    With a filter the graph's first ef neighbours hold about share x ef permitted rows; the
    iterative scan finds more, but not the nearest (recall@20 under a 6 %-visible role on
    176k chunks: 0.70 at ef 40, 0.82 at 400, 0.92 at 1000, by distance). Beyond the cap the
    iterative scan (and the exact re-check) supply the rest."""
    want = 2 * n / max(share, 1e-6)
    return min(MAX_EF_SEARCH, max(MIN_EF_SEARCH, math.ceil(want)))


def _hit(row: Sequence[Any], score: float, **evidence: Any) -> Hit:
    chunk_id, doc_id, heading, heading_path, text = row[:5]
    return Hit(
        chunk_id=chunk_id,
        path=doc_id,
        heading=heading,
        text=text,
        score=score,
        heading_path=tuple(heading_path or ()),
        **evidence,
    )


def clean_text(text: str) -> str:
    """``text`` as PostgreSQL can take it (see :func:`netdocs.safetext.storable`)."""
    return storable(text)


def _storable(tag: str) -> bool:
    return tag == clean_text(tag)


def _params(
    allowed: frozenset[str] | None,
    stale_max_age: timedelta = DEFAULT_STALE_MAX_AGE,
    **extra: Any,
) -> dict[str, Any]:
    params = dict(extra, stale_max_age=stale_max_age)
    if allowed is not None:
        # No stored tag can contain NUL or a lone surrogate: such a tag matches nothing and
        # is dropped rather than failing the query.
        params["allowed"] = sorted(t for t in allowed if _storable(t))
    return params


def dense_hits(
    conn: psycopg.Connection,
    vector: np.ndarray | Sequence[float],
    allowed: frozenset[str] | None,
    n: int,
    dim: int,
    *,
    exact: bool | None = None,
    stale_max_age: timedelta = DEFAULT_STALE_MAX_AGE,
) -> list[Hit]:
    """Top ``n`` permitted chunks by cosine similarity (score = cosine).

    ``exact=None`` chooses: an exact scan when the tag filter permits at most
    ``EXACT_SCAN_BELOW`` chunks, else the HNSW index with an iterative scan, re-checked
    exactly if the index comes back short. Either way a filtered query returns ``n`` rows
    whenever ``n`` permitted rows exist.
    """
    vec = np.asarray(vector, dtype=np.float32)
    if vec.shape != (dim,):
        raise ValueError(f"query vector has shape {vec.shape}, the index holds {dim}-d vectors")
    restricted = allowed is not None
    with conn.transaction():
        if exact is None:
            exact = restricted and _few_permitted(conn, allowed, stale_max_age)
        params = _params(allowed, stale_max_age, q=vec, n=n)
        if not exact:
            own = restricted and role_indexes.has_index(conn, dim, allowed or ())
            share = ROLE_INDEX_SHARE if own else cached_share(conn, allowed)
            conn.execute(q.SCAN_SETTINGS, {"ef": str(ef_search(n, share))})
            stmt = q.dense_sql(dim, restricted=restricted)
            rows = conn.execute(stmt, params, prepare=False).fetchall()
            if len(rows) == n:
                return [_hit(r, float(r[5]), cosine=float(r[5])) for r in rows]
            # HNSW is approximate: a graph full of dead or identical vectors can end a scan
            # early. Short results are rare and then checked exactly (cheap when the table
            # really holds fewer than n permitted rows).
            log.debug("HNSW scan returned %d of %d rows; rescanning exactly", len(rows), n)
        stmt = q.dense_sql(dim, restricted=restricted, exact=True)
        rows = conn.execute(stmt, params, prepare=False).fetchall()
    return [_hit(r, float(r[5]), cosine=float(r[5])) for r in rows]


#: The exact-scan decision per connection, tag set and index generation is re-counted after
#: this many seconds (chunks also leave the permitted set by going stale).
EXACT_CHOICE_TTL_S = 300.0
_choices: weakref.WeakKeyDictionary[psycopg.Connection, dict[Any, tuple[float, bool]]] = (
    weakref.WeakKeyDictionary()
)
_choices_lock = threading.Lock()


def _few_permitted(
    conn: psycopg.Connection, allowed: frozenset[str] | None, stale_max_age: timedelta
) -> bool:
    """True when at most EXACT_SCAN_BELOW chunks are permitted (counted at most once per
    generation and EXACT_CHOICE_TTL_S: the count scans up to 2,001 rows, ms per query)."""
    row = conn.execute("SELECT generation FROM index_generation WHERE id").fetchone()
    key = (row[0] if row else None, allowed, stale_max_age)
    now = time.monotonic()
    with _choices_lock:
        hit = _choices.get(conn, {}).get(key)
    if hit is not None and now - hit[0] < EXACT_CHOICE_TTL_S:
        return hit[1]
    cap = EXACT_SCAN_BELOW + 1
    row = conn.execute(
        q.permitted_count_sql(), _params(allowed, stale_max_age, cap=cap), prepare=False
    ).fetchone()
    few = row is not None and row[0] <= EXACT_SCAN_BELOW
    with _choices_lock:
        per_conn = _choices.setdefault(conn, {})
        if len(per_conn) > 64:
            per_conn.clear()
        per_conn[key] = (now, few)
    return few


def fulltext_params(plan: TermPlan, *, narrow: bool = True) -> dict[str, Any]:
    """Bind parameters of :func:`sql.fulltext_sql` for a term plan (pure); ``narrow=False``
    ignores ``plan.narrow`` (the broad query)."""
    quoted = {lex: quote_lexeme(lex) for lex, _ in plan.terms}
    candidates = " | ".join(quoted[lex] for lex in plan.candidates)
    if narrow and plan.narrow:
        candidates = f"{candidates} & ({' | '.join(quoted[lex] for lex in plan.narrow)})"
    params: dict[str, Any] = {"any": candidates, "all": " & ".join(quoted.values())}
    for i, (lex, weight) in enumerate(plan.terms):
        params.update(
            {
                f"q{i}": quoted[lex],
                f"h{i}": quoted[lex] + ":A",
                f"w{i}": weight,
                f"b{i}": HEADING_BONUS * weight,
            }
        )
    return params


def fulltext_hits(
    conn: psycopg.Connection,
    text: str,
    allowed: frozenset[str] | None,
    n: int,
    *,
    stale_max_age: timedelta = DEFAULT_STALE_MAX_AGE,
) -> list[Hit]:
    """Top ``n`` permitted chunks by IDF-weighted lexeme matches (score = that weight sum;
    for a restricted caller ``1 / (RRF_K + rank)``: the weights are counted over every chunk,
    so a raw sum would tell how many hidden chunks hold a word)."""
    with conn.transaction():
        row = conn.execute(q.QUERY_LEXEMES, (clean_text(text),)).fetchone()
        lexemes: list[str] = row[0] if row else []
        if not lexemes:  # only stop words, punctuation, nothing
            return []
        plan = plan_terms(lexemes, cached_stats(conn))
        conn.execute(q.FULLTEXT_SETTINGS)
        params = _params(allowed, stale_max_age, n=n, **fulltext_params(plan))
        stmt = q.fulltext_sql(len(plan.terms), restricted=allowed is not None)
        rows = conn.execute(stmt, params, prepare=False).fetchall()
        if plan.narrow and not (len(rows) == n and float(rows[-1][5]) > plan.bound):
            # a chunk left out might belong in the top n: score every candidate
            params.update(fulltext_params(plan, narrow=False))
            rows = conn.execute(stmt, params, prepare=False).fetchall()
    if allowed is not None:  # the weights count hidden chunks: only the order is shown
        return [_hit(r, 1.0 / (RRF_K + i), all_terms=bool(r[6])) for i, r in enumerate(rows, 1)]
    return [_hit(r, float(r[5]), text_rank=float(r[5]), all_terms=bool(r[6])) for r in rows]


def search(
    conn: psycopg.Connection,
    query_text: str,
    query_vector: np.ndarray | Sequence[float] | PendingVector | None,
    allowed: frozenset[str] | None,
    k: int = 5,
    mode: Mode = "fused",
    *,
    dim: int | None = None,
    timings: dict[str, float] | None = None,
    stale_max_age: timedelta = DEFAULT_STALE_MAX_AGE,
    pool: int = 0,
) -> list[Hit]:
    """The top ``k`` chunks ``allowed`` may see (None = unrestricted) for a question.

    ``pool`` > k returns up to ``pool`` candidates instead (the same candidate lists, so
    their first ``k`` are the top k), for :mod:`netdocs.query.diversity`.

    Chunks of a document served from an older version for longer than ``stale_max_age``
    are withdrawn (NETDOCS_STALE_MAX_AGE).

    ``query_vector`` is needed for the dense and fused modes; a :class:`PendingVector` is
    awaited after the full-text query (it is embedded meanwhile); ``dim`` defaults to the
    dimension recorded in the index (an empty index returns no hits). ``timings``, when
    given, receives the milliseconds of the stages run: ``fulltext_ms``, ``dense_ms``,
    ``fuse_ms``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if k <= 0:
        return []
    n = candidates_for(k)
    top = max(k, pool)
    text_list: list[Hit] = []
    if mode in ("fused", "fulltext") and query_text.strip():
        try:
            with timed(timings, "fulltext_ms"):
                text_list = fulltext_hits(conn, query_text, allowed, n, stale_max_age=stale_max_age)
        except BaseException:
            if isinstance(query_vector, PendingVector):
                query_vector.settle()
            raise
    if mode == "fulltext":
        return text_list[:top]
    if isinstance(query_vector, PendingVector):
        query_vector = query_vector.get()
    if query_vector is None:
        raise ValueError(f"mode {mode!r} needs a query vector")
    if dim is None:
        from netdocs.store.schema import recorded_model

        recorded = recorded_model(conn)
        if recorded is None:
            return []
        dim = recorded[1]
    with timed(timings, "dense_ms"):
        dense_list = dense_hits(conn, query_vector, allowed, n, dim, stale_max_age=stale_max_age)
    if mode == "dense":
        return dense_list[:top]
    with timed(timings, "fuse_ms"):
        return fuse(dense_list, text_list, top)
