"""What every ``netdocs`` subcommand that reads the database starts with: the configured
database's URL with its schema migrated, and duration options as clear ``ConfigError``s.
Heavy imports stay inside the functions, so building the parser stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdocs.config import Settings


def migrated_url(settings: Settings | None = None) -> str:
    """The database URL of ``settings`` (default: the current ones), schema applied."""
    from netdocs.config import get_settings
    from netdocs.db import database_url
    from netdocs.store.schema import migrate

    url = database_url(settings or get_settings())
    migrate(url)
    return url


def migrated_connection() -> Any:
    """An autocommit connection (context manager) to the migrated database."""
    from netdocs.db import connection

    return connection(migrated_url(), autocommit=True)


def duration_arg(text: str | None, what: str) -> float | None:
    """Seconds in option ``what`` (None when not given); a bad value is a ConfigError."""
    from netdocs.durations import parse_duration
    from netdocs.errors import ConfigError

    try:
        return None if text is None else parse_duration(text, what)
    except ValueError as e:
        raise ConfigError(str(e)) from None
