"""SQL builders for retrieval (pure: they build statements, they run nothing).

Access control is part of every ranking query: ``c.tags && %(allowed)s::text[]`` with the
role's tags as a bind parameter, so a chunk outside the role's tags is never a candidate.
The clause is omitted only for unrestricted callers. No value is ever pasted into SQL text;
the one formatted number is the embedding dimension, an ``int`` read from ``index_meta``,
which must be a literal for the HNSW expression index ``(embedding::vector(DIM))`` to match.

Parameters used by the statements: ``q`` (query vector), ``n`` (rows), ``allowed`` (text[]),
``text`` (the question as typed), ``any_text`` (its words joined with ``or``), ``cap``,
``ef`` (text).
"""

from __future__ import annotations

import re

from psycopg import sql

_ACL = sql.SQL(" AND c.tags && %(allowed)s::text[]")
_COLUMNS = sql.SQL("c.chunk_id, c.doc_id, c.heading, c.heading_path, c.text")

#: pgvector 0.8: keep scanning the HNSW graph until enough rows pass the WHERE clause.
SCAN_SETTINGS = sql.SQL(
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
    " set_config('hnsw.ef_search', %(ef)s, true)"
)


def _acl(restricted: bool) -> sql.Composable:
    return _ACL if restricted else sql.SQL("")


def dense_sql(dim: int, *, restricted: bool, exact: bool = False) -> sql.Composed:
    """Nearest chunks by cosine distance; returns the columns plus ``cosine`` similarity.

    ``exact=False`` orders by the indexed expression so the HNSW index is used (with an
    iterative scan the index yields rows slightly out of order, hence the outer ORDER BY).
    ``exact=True`` orders by an expression the index does not cover: a sequential (or
    tag-bitmap) scan, exact and cheap when few rows are permitted.
    """
    distance: sql.Composable
    if exact:
        distance = sql.SQL("c.embedding <=> %(q)s::vector")
    else:
        distance = sql.SQL("c.embedding::vector({d}) <=> %(q)s::vector({d})").format(
            d=sql.Literal(int(dim))
        )
    return sql.SQL(
        "WITH cand AS MATERIALIZED ("
        "SELECT {cols}, {dist} AS distance FROM chunks c WHERE true{acl}"
        " ORDER BY distance LIMIT %(n)s)"
        " SELECT chunk_id, doc_id, heading, heading_path, text, 1 - distance AS cosine"
        " FROM cand ORDER BY distance, chunk_id"
    ).format(cols=_COLUMNS, dist=distance, acl=_acl(restricted))


def fulltext_sql(*, restricted: bool) -> sql.Composed:
    """Chunks matching any query term, those matching all terms first, by ``ts_rank_cd``.

    ``%(text)s`` goes through ``websearch_to_tsquery`` (never a syntax error, honours quotes
    and ``-word``); ``%(any_text)s`` is the same words joined with ``or``.
    """
    return sql.SQL(
        "WITH q AS (SELECT websearch_to_tsquery('english', %(text)s) AS q_all,"
        " websearch_to_tsquery('english', %(any_text)s) AS q_any)"
        " SELECT {cols}, ts_rank_cd(c.tsv, q.q_any) AS rank, c.tsv @@ q.q_all AS all_terms"
        " FROM chunks c, q WHERE c.tsv @@ q.q_any{acl}"
        " ORDER BY all_terms DESC, rank DESC, c.chunk_id LIMIT %(n)s"
    ).format(cols=_COLUMNS, acl=_acl(restricted))


def permitted_count_sql() -> sql.Composed:
    """How many chunks the tag set may see, counting at most ``%(cap)s`` (cheap, bounded)."""
    return sql.SQL(
        "SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE true{acl} LIMIT %(cap)s) s"
    ).format(acl=_ACL)


_WEBSEARCH_OPERATORS = re.compile(r'["()]|(?:^|\s)-|\b(?:or|and|not)\b', re.IGNORECASE)


def any_terms(text: str) -> str:
    """The words of ``text`` joined by `` or `` for ``websearch_to_tsquery`` (OR semantics)."""
    words = _WEBSEARCH_OPERATORS.sub(" ", text).split()
    return " or ".join(words)
