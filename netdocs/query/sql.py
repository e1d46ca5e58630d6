"""SQL builders for retrieval (pure: they build statements, they run nothing).

Access control is part of every ranking query: ``c.tags && %(allowed)s::text[]`` with the
role's tags as a bind parameter, so a chunk outside the role's tags is never a candidate.
The clause is omitted only for unrestricted callers. No value is ever pasted into SQL text;
the one formatted number is the embedding dimension, an ``int`` read from ``index_meta``,
which must be a literal for the HNSW expression index ``(embedding::vector(DIM))`` to match.

Parameters are named in each builder's docstring; the dense ones are ``q`` (query vector),
``n`` (rows), ``allowed`` (text[]), ``cap`` and ``ef`` (text); every ranking and counting
statement also takes ``stale_max_age`` (an interval, see ``_FRESH``).
"""

from __future__ import annotations

from psycopg import sql

_ACL = sql.SQL(" AND c.tags && %(allowed)s::text[]")
#: A chunk of a document served from an older version for longer than the maximum age
#: (``stale_max_age``, an interval) is withdrawn from every result, whatever the role.
_FRESH = sql.SQL(
    " AND (c.stale_since IS NULL OR c.stale_since > now() - %(stale_max_age)s::interval)"
)
_COLUMNS = sql.SQL("c.chunk_id, c.doc_id, c.heading, c.heading_path, c.text")

#: pgvector 0.8: keep scanning the HNSW graph until enough rows pass the WHERE clause.
SCAN_SETTINGS = sql.SQL(
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
    " set_config('hnsw.ef_search', %(ef)s, true)"
)


#: The chunks and their GIN index live in memory or on SSD: price random reads as such, so
#: the planner takes the GIN bitmap scan for selective lexemes instead of a sequential scan
#: that evaluates ``tsv @@`` on every chunk (measured: 7 ms vs 21 ms on 19k chunks).
FULLTEXT_SETTINGS = sql.SQL("SELECT set_config('random_page_cost', '1.1', true)")


def _acl(restricted: bool) -> sql.Composable:
    return sql.Composed([_ACL, _FRESH]) if restricted else _FRESH


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


def fulltext_sql(n_terms: int, *, restricted: bool) -> sql.Composed:
    """Chunks containing a candidate lexeme, scored by the IDF weights of the lexemes they hold.

    Score = sum over query lexemes i present in the chunk of ``w_i`` (+ ``b_i`` when the
    lexeme is in the heading, weight A). Parameters: ``any`` (tsquery text: candidate
    lexemes OR-ed), ``all`` (every lexeme AND-ed), ``q{i}`` / ``h{i}`` (lexeme i, and
    lexeme i restricted to headings, as tsquery text), ``w{i}`` / ``b{i}`` (floats), ``n``.

    Each candidate's ``tsv`` is read once (``|| ''``: a TOASTed tsvector would otherwise be
    fetched again for each of the 2 x terms + 1 tests) and the ranking runs on narrow rows;
    only the top ``n`` fetch their text.
    """
    if n_terms < 1:
        raise ValueError("a full-text query needs at least one term")
    parts = [
        sql.SQL(
            "CASE WHEN m.tsv @@ {q}::tsquery THEN {w}::float8"
            " + CASE WHEN m.tsv @@ {h}::tsquery THEN {b}::float8 ELSE 0 END ELSE 0 END"
        ).format(
            q=sql.Placeholder(f"q{i}"),
            w=sql.Placeholder(f"w{i}"),
            h=sql.Placeholder(f"h{i}"),
            b=sql.Placeholder(f"b{i}"),
        )
        for i in range(n_terms)
    ]
    return sql.SQL(
        "WITH r AS MATERIALIZED ("
        "SELECT m.chunk_id, {score} AS rank, m.tsv @@ %(all)s::tsquery AS all_terms"
        " FROM (SELECT c.chunk_id, c.tsv || ''::tsvector AS tsv"
        " FROM chunks c WHERE c.tsv @@ %(any)s::tsquery{acl} OFFSET 0) m"
        " ORDER BY rank DESC, m.chunk_id LIMIT %(n)s)"
        " SELECT {cols}, r.rank, r.all_terms FROM r JOIN chunks c ON c.chunk_id = r.chunk_id"
        " ORDER BY r.rank DESC, r.chunk_id"
    ).format(cols=_COLUMNS, score=sql.SQL(" + ").join(parts), acl=_acl(restricted))


QUERY_LEXEMES = sql.SQL("SELECT array(SELECT lexeme FROM unnest(to_tsvector('english', %s)))")


def permitted_count_sql() -> sql.Composed:
    """How many chunks the tag set may see, counting at most ``%(cap)s`` (cheap, bounded)."""
    return sql.SQL(
        "SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE true{acl} LIMIT %(cap)s) s"
    ).format(acl=_acl(True))


def entry_visible_sql(*, restricted: bool) -> sql.Composed:
    """True when every distinct chunk id of the query-cache entry ``e`` exists, is not
    withdrawn and the tag set may see it (the ranking queries' filter)."""
    return sql.SQL(
        "(SELECT count(*) FROM chunks c WHERE c.chunk_id = ANY(e.chunk_ids){acl})"
        " = (SELECT count(DISTINCT i) FROM unnest(e.chunk_ids) AS i)"
    ).format(acl=_acl(restricted))


def cached_entry_sql(*, restricted: bool) -> sql.Composed:
    """The query-cache entry ``%(key)s`` younger than ``%(ttl)s`` seconds, and whether all
    of its chunks are visible (:func:`entry_visible_sql`): served only when they are."""
    return sql.SQL(
        "SELECT e.cache_key, e.result, e.chunk_ids, e.model, e.input_tokens, e.output_tokens,"
        " e.created_at, {visible}"
        " FROM query_cache e WHERE e.cache_key = %(key)s"
        " AND e.created_at > now() - make_interval(secs => %(ttl)s)"
    ).format(visible=entry_visible_sql(restricted=restricted))
