"""Database URLs in errors: the password never appears, and no driver exception (whose text
may quote the URL) is chained to the netdocs error. Real libpq, no server needed."""

from __future__ import annotations

import traceback

import pytest

from netdocs.config import Settings
from netdocs.db import connect, database_url, redact
from netdocs.devserver import free_port
from netdocs.errors import ConfigError, DatabaseError, NetdocsError

PW = "Hunter2Pw"
UNPARSEABLE = [
    f"postgresql://u:{PW}%ZZ@db.invalid/netdocs",  # invalid percent escape
    f"postgresql://u:{PW}@[::1/netdocs",  # unclosed IPv6 bracket: libpq quotes the URL
    f"postgresql://u:{PW}@h/netdocs?bogus={PW}",  # unknown parameter
    f"host=h password='{PW}",  # unterminated quote
]


def _full_text(e: BaseException) -> str:
    return "".join(traceback.format_exception(e)) + repr(e.args)


@pytest.mark.parametrize("url", UNPARSEABLE)
def test_unparseable_urls(url: str) -> None:
    for call in (lambda: connect(url), lambda: database_url(Settings(database_url=url))):
        with pytest.raises(ConfigError) as info:
            call()
        assert PW not in _full_text(info.value)
        assert info.value.__context__ is None and info.value.__cause__ is None
    assert PW not in redact(url)


def test_unreachable_server() -> None:
    url = f"postgresql://u:{PW}@127.0.0.1:{free_port()}/netdocs"
    with pytest.raises(DatabaseError) as info:
        connect(url)
    assert "password=***" in str(info.value) and PW not in _full_text(info.value)
    assert info.value.__context__ is None


def test_shapes() -> None:
    assert redact(UNPARSEABLE[0]) == "postgresql://u:***@db.invalid/netdocs"
    assert redact(UNPARSEABLE[1]) == "postgresql://u:***@[::1/netdocs"
    assert redact(UNPARSEABLE[3]) == "<unparseable database URL>"
    assert (
        redact(f"postgresql://u:{PW}@h:5433/d") == "user=u password=*** dbname=d host=h port=5433"
    )
    assert issubclass(ConfigError, NetdocsError)


def test_the_prefect_server_gets_none_of_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`netdocs server start` launches a long-lived Prefect server that needs no provider
    key or database URL of netdocs: they are not in its environment (its own settings are)."""
    from pathlib import Path

    from netdocs.devserver import server_env

    secrets = {
        "OPENAI_API_KEY": "sk-test-1",
        "ANTHROPIC_API_KEY": "sk-ant-2",
        "NETDOCS_DATABASE_URL": "postgresql://u:pw3@h/db",
        "NETDOCS_PROXY_SECRET": "px4",
        "PGPASSWORD": "pw5",
    }
    kept = {"PATH": "/usr/bin", "PREFECT_API_DATABASE_PASSWORD": "prefects-own", "LANG": "C"}
    for key, value in {**secrets, **kept}.items():
        monkeypatch.setenv(key, value)
    env = server_env(Path("/tmp/h"), 4200)
    assert not set(secrets) & set(env)
    assert all(env[k] == v for k, v in kept.items())
    assert not any(v in " ".join(env.values()) for v in secrets.values())
