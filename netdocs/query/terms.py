"""Full-text term weighting: IDF from PostgreSQL's own lexeme statistics.

``ts_rank`` weighs every query word alike, so on natural questions common words ("configure",
"server") decide the ranking. Here each query lexeme gets an IDF weight, ``log(1 / share of
chunks containing it)``, read from ``pg_stats.most_common_elems`` of ``chunks.tsv`` (kept by
ANALYZE / autovacuum; lexemes too rare to be listed get half the smallest listed share).
Candidates are the chunks containing at least one *selective* lexeme (share below
``CANDIDATE_MAX_SHARE``), which keeps the scan small; every lexeme still counts in the score.
On a large index the candidate lexemes are also bounded by an estimated number of rows
(``CANDIDATE_ROW_BUDGET``, rarest first, at least one): at 20,000 documents the lexemes under
3 % matched 8,000 chunks for the median question, and scoring each costs a heap visit.
Without statistics (a new, small index) all lexemes weigh 1 and all select candidates.

When even the one rarest candidate lexeme exceeds the budget (a question of common words;
at 20,000 documents up to 11,000 chunks), the candidates are *narrowed* to the chunks that
hold it and at least one of the heavier other lexemes (``TermPlan.narrow``). A chunk left
out holds none of those, so it scores at most ``TermPlan.bound`` (the candidate lexeme plus
the light lexemes left out of the second group, all with the heading bonus; at most
``MAX_LEFT_OUT_SCORE``). The narrowed top n is the exact top n whenever its n-th score is
above that bound; otherwise the caller runs the broad query (see ``fulltext_hits``).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

CANDIDATE_MAX_SHARE = 0.03
#: At most about this many chunks (estimated from the shares) are scored per question.
CANDIDATE_ROW_BUDGET = 2500
MAX_TERMS = 24
#: A chunk the narrowed candidate query leaves out scores at most this (IDF units; the 20th
#: full-text score of the 14 narrowed questions at 20,000 documents was 11.8-27.5).
MAX_LEFT_OUT_SCORE = 9.0
#: The heading bonus share (a lexeme in a chunk's heading adds this share of its weight).
HEADING_BONUS = 0.5
STATS_TTL_S = 300.0


@dataclass(frozen=True)
class TermStats:
    """Shares of chunks containing the most common lexemes."""

    shares: dict[str, float]
    floor: float | None  # smallest listed share; None = no statistics
    rows: float = 0.0  # chunks in the table (pg_class.reltuples); 0 = unknown

    def share(self, lexeme: str) -> float | None:
        """Estimated share of chunks containing ``lexeme`` (None without statistics)."""
        if self.floor is None:
            return None
        return self.shares.get(lexeme, self.floor / 2)

    def weight(self, lexeme: str) -> float:
        """The IDF weight of ``lexeme`` (1.0 without statistics)."""
        share = self.share(lexeme)
        return 1.0 if share is None else math.log(1.0 / max(share, 1e-9))


NO_STATS = TermStats({}, None)


@dataclass(frozen=True)
class TermPlan:
    """What the full-text query matches and how it scores."""

    terms: tuple[tuple[str, float], ...]  # (lexeme, weight), heaviest first
    candidates: tuple[str, ...]  # lexemes whose chunks are scored
    #: When set, only chunks holding a candidate *and* one of these lexemes are scored ...
    narrow: tuple[str, ...] = ()
    #: ... and a chunk left out scores at most this.
    bound: float = 0.0


def plan_terms(lexemes: Sequence[str], stats: TermStats) -> TermPlan:
    """Weigh the query's lexemes and choose the selective ones that pick candidates (pure)."""
    unique = sorted(set(lexemes), key=lambda lex: (-stats.weight(lex), lex))[:MAX_TERMS]
    terms = tuple((lex, stats.weight(lex)) for lex in unique)
    selective = [
        lex for lex in unique if (share := stats.share(lex)) is None or share < CANDIDATE_MAX_SHARE
    ]
    if stats.rows > 0 and selective:  # rarest first (``unique`` is by weight) within the budget
        budget, kept = float(CANDIDATE_ROW_BUDGET), list[str]()
        for lex in selective:
            budget -= (stats.share(lex) or 0.0) * stats.rows
            if kept and budget < 0:
                break
            kept.append(lex)
        selective = kept
    candidates = tuple(selective or unique[:1])
    rows = (stats.share(candidates[0]) or 0.0) * stats.rows if candidates else 0.0
    if len(candidates) == 1 and len(terms) > 1 and rows > CANDIDATE_ROW_BUDGET:
        return _narrowed(terms, candidates[0])
    return TermPlan(terms, candidates)


def _narrowed(terms: tuple[tuple[str, float], ...], lexeme: str) -> TermPlan:
    """The plan whose candidates hold ``lexeme`` and one of the heavier other lexemes; the
    lightest others are left out of that group while a chunk holding only them and
    ``lexeme`` (all in its heading) stays within MAX_LEFT_OUT_SCORE (pure)."""
    weights = dict(terms)
    bound = weights[lexeme]
    others = [(lex, w) for lex, w in terms if lex != lexeme]  # heaviest first
    while len(others) > 1 and (1 + HEADING_BONUS) * (bound + others[-1][1]) <= MAX_LEFT_OUT_SCORE:
        bound += others.pop()[1]
    return TermPlan(terms, (lexeme,), tuple(lex for lex, _ in others), (1 + HEADING_BONUS) * bound)


def quote_lexeme(lexeme: str) -> str:
    """``lexeme`` as one quoted tsquery operand (quotes and backslashes escaped)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def load_stats(conn: psycopg.Connection) -> TermStats:
    """Read the lexeme statistics of ``chunks.tsv`` (NO_STATS before the first ANALYZE)."""
    row = conn.execute(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs,"
        " (SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass) FROM pg_stats"
        " WHERE schemaname = current_schema() AND tablename = 'chunks' AND attname = 'tsv'"
    ).fetchone()
    if row is None or not row[0] or not row[1]:
        return NO_STATS
    elems, freqs, rows = row
    shares = freqs[: len(elems)]  # then come min, max and the null share
    return TermStats(
        dict(zip(elems, shares, strict=True)), float(min(shares)), max(0.0, float(rows or 0))
    )


_cache: weakref.WeakKeyDictionary[psycopg.Connection, tuple[float, TermStats]] = (
    weakref.WeakKeyDictionary()
)
_cache_lock = threading.Lock()


def cached_stats(conn: psycopg.Connection, ttl: float = STATS_TTL_S) -> TermStats:
    """The statistics for this connection's database, re-read every ``ttl`` seconds."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(conn)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    stats = load_stats(conn)
    with _cache_lock:
        _cache[conn] = (now, stats)
    return stats
