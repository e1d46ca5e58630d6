"""Feedback on an answer: ``helpful`` or ``not_helpful``, with an optional comment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

from netdocs.errors import ConfigError
from netdocs.safetext import storable

Rating = Literal["helpful", "not_helpful"]
RATINGS: tuple[Rating, ...] = ("helpful", "not_helpful")
MAX_COMMENT_CHARS = 2000
#: Votes kept per query: a mind changed a few times is normal, a loop of votes is not.
MAX_VOTES_PER_QUERY = 20


class UnknownQuery(ConfigError):
    """No query with this id was recorded (exit code 2)."""


class TooManyVotes(ConfigError):
    """The query already has MAX_VOTES_PER_QUERY votes (exit code 2, HTTP 429)."""


@dataclass(frozen=True)
class Feedback:
    """A stored vote."""

    feedback_id: int
    query_id: str
    rating: Rating
    comment: str | None
    user: str | None
    created_at: datetime


def _check(rating: str, comment: str | None) -> None:
    if rating not in RATINGS:
        raise ConfigError(f"rating: expected one of {', '.join(RATINGS)}, not {rating!r}")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise ConfigError(f"comment: at most {MAX_COMMENT_CHARS} characters ({len(comment)})")


def give_feedback(
    query_id: str,
    rating: Rating | str,
    comment: str | None = None,
    *,
    user: str | None = None,
    conn: psycopg.Connection | None = None,
) -> Feedback:
    """Record a vote on query ``query_id``; raises UnknownQuery when no such query exists.

    Without ``conn`` the configured database is used. A later vote on the same query
    replaces the earlier one in the satisfaction figure (both are kept, up to
    MAX_VOTES_PER_QUERY: then TooManyVotes).
    """
    _check(rating, comment)
    if conn is None:
        from netdocs.config import get_settings
        from netdocs.db import connection, database_url
        from netdocs.store.schema import migrate

        url = database_url(get_settings())
        migrate(url)
        with connection(url) as own:
            return give_feedback(query_id, rating, comment, user=user, conn=own)
    clean = storable(comment) if comment else None  # NUL, lone surrogates
    qid = query_id.replace("\x00", "")
    try:
        with conn.transaction():
            # the query row locked: concurrent votes on it are counted one after another
            known = conn.execute(
                "SELECT (SELECT count(*) FROM query_feedback f WHERE f.query_id = m.query_id)"
                " FROM query_metrics m WHERE m.query_id = %s FOR KEY SHARE",
                (qid,),
            ).fetchone()
            if known is not None and known[0] >= MAX_VOTES_PER_QUERY:
                raise TooManyVotes(
                    f"query id {query_id!r}: already {known[0]} votes (at most"
                    f" {MAX_VOTES_PER_QUERY}); the last one counts"
                )
            row = (
                None
                if known is None
                else conn.execute(
                    "INSERT INTO query_feedback (query_id, rating, comment, user_name)"
                    " VALUES (%s, %s, %s, %s) RETURNING feedback_id, created_at",
                    (qid, rating, clean, user),
                ).fetchone()
            )
    except psycopg.errors.ForeignKeyViolation:  # the query row was deleted meanwhile
        row = None
    if row is None:
        raise UnknownQuery(f"query id {query_id!r}: no such query recorded")
    return Feedback(row[0], query_id, rating, clean, user, row[1])  # type: ignore[arg-type]
