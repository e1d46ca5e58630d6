"""Tokens and the trusted reverse-proxy header, on a real database."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from netdocs.config import Settings
from netdocs.db import connect
from netdocs.errors import ConfigError
from netdocs.server.auth import AuthError, authenticate, check_role
from netdocs.server.gate import Gate
from netdocs.server.runtime import Busy
from netdocs.server.tokens import (
    TokenCache,
    create_token,
    list_tokens,
    parse_lifetime,
    revoke_token,
)
from netdocs.store.schema import migrate

from ..conftest import REPO

PROXY = {"x-forwarded-user": "erin", "x-forwarded-role": "helpdesk"}


@pytest.fixture
def conn(db_url: str) -> psycopg.Connection:
    migrate(db_url)
    with connect(db_url, autocommit=True) as c:
        yield c


def test_token_round_trip_and_revocation(conn: psycopg.Connection) -> None:
    s = Settings()
    info, secret = create_token(conn, "alice", "helpdesk")
    (stored,) = conn.execute("SELECT token_hash FROM api_tokens").fetchone()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    who = authenticate(conn, {"authorization": f"Bearer {secret}"}, "10.0.0.9", s)
    assert (who.user, who.role, who.via) == ("alice", "helpdesk", "token")
    revoke_token(conn, info.token_id)
    with pytest.raises(AuthError) as e:
        authenticate(conn, {"authorization": f"Bearer {secret}"}, "10.0.0.9", s)
    assert e.value.status == 401
    assert list_tokens(conn)[0].revoked_at is not None
    with pytest.raises(ConfigError, match="no such token"):
        revoke_token(conn, "nope")


def test_proxy_headers_only_from_configured_addresses(conn: psycopg.Connection) -> None:
    off = Settings()  # default: no trusted proxy
    with pytest.raises(AuthError):
        authenticate(conn, PROXY, "127.0.0.1", off)
    on = Settings(trusted_proxies="192.0.2.10, 127.0.0.0/8")
    who = authenticate(conn, PROXY, "127.0.0.1", on)
    assert (who.user, who.role, who.via) == ("erin", "helpdesk", "proxy")
    for host in ("10.1.2.3", None, "not-an-ip"):
        with pytest.raises(AuthError):
            authenticate(conn, PROXY, host, on)
    with pytest.raises(AuthError):  # a proxy without the role header
        authenticate(conn, {"x-forwarded-user": "erin"}, "192.0.2.10", on)
    with pytest.raises(AuthError):  # a bad token is refused even from the proxy
        authenticate(conn, {**PROXY, "authorization": "Bearer ndt_bogus"}, "127.0.0.1", on)


def test_a_body_role_must_be_the_callers() -> None:
    from netdocs.server.auth import Principal

    who = Principal("alice", "helpdesk", "token")
    check_role(who, None)
    check_role(who, "helpdesk")
    with pytest.raises(AuthError) as e:
        check_role(who, "admin")
    assert e.value.status == 403


def _netdocs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netdocs.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_and_token_create_need_the_policy_and_one_of_its_roles(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NETDOCS_POLICY"}
    env["NETDOCS_DATABASE_URL"] = db_url
    res = _netdocs(env, "serve", "--port", "1")
    assert res.returncode == 2 and "NETDOCS_POLICY" in res.stderr  # fails closed, no server
    res = _netdocs(env, "token", "create", "--user", "x", "--role", "admin")
    assert res.returncode == 2 and "NETDOCS_POLICY" in res.stderr
    policy = str(REPO / "examples" / "tags.yaml")
    res = _netdocs(env, "token", "create", "--user", "x", "--role", "root", "--policy", policy)
    assert res.returncode == 2 and "helpdesk" in res.stderr  # names the roles that exist
    args = ("token", "create", "--user", "x", "--role", "helpdesk", "--policy", policy)
    res = _netdocs(env, *args, "--expires-in", "5y")
    assert res.returncode == 2 and "--expires-in" in res.stderr
    res = _netdocs(env, "token", "list")
    assert res.returncode == 0 and res.stdout.strip() == "no tokens"


def test_a_role_dropped_from_the_policy_is_denied_without_a_restart(
    db_url: str, tmp_path: Path
) -> None:
    from netdocs.errors import AccessDenied
    from netdocs.server.auth import Principal
    from netdocs.server.runtime import Runtime

    migrate(db_url)
    policy = tmp_path / "tags.yaml"
    rules = "rules:\n  - glob: '**'\n    tags: [faq]\n"
    policy.write_text("roles:\n  ops: {allow: [faq]}\n  hd: {allow: [faq]}\n" + rules)
    rt = Runtime(Settings(policy=policy, embedding_provider="hashing"), db_url)
    try:
        with rt.connection() as conn:
            assert rt.service(conn, Principal("u", "ops", "token")).allowed == {"faq"}
            policy.write_text("roles:\n  hd: {allow: [faq]}\n" + rules)
            os.utime(policy, (1, 1))  # a new mtime whatever the clock's resolution
            with pytest.raises(AccessDenied):
                rt.service(conn, Principal("u", "ops", "token"))
    finally:
        rt.close()


def test_without_netdocs_policy_the_server_uses_the_policy_stored_in_the_index(
    db_url: str, tmp_path: Path
) -> None:
    """The index's stored policy decides roles (fail closed: none stored -> no server)."""
    from netdocs.errors import AccessDenied
    from netdocs.policy import load_policy
    from netdocs.server.auth import Principal
    from netdocs.server.runtime import Runtime
    from netdocs.store.policy_store import store_policy

    migrate(db_url)
    settings = Settings(policy=None, embedding_provider="hashing")
    with pytest.raises(ConfigError, match="stores none"):
        Runtime(settings, db_url)
    policy = tmp_path / "tags.yaml"
    policy.write_text("roles:\n  hd: {allow: [faq, troubleshooting_guides]}\n")
    with connect(db_url, autocommit=True) as c:
        store_policy(c, load_policy(policy), None)  # as an ingest with --policy does
    env = {k: v for k, v in os.environ.items() if k != "NETDOCS_POLICY"}
    env["NETDOCS_DATABASE_URL"] = db_url
    res = _netdocs(env, "token", "create", "--user", "x", "--role", "hd")
    assert res.returncode == 0, res.stderr
    rt = Runtime(settings, db_url)
    try:
        with rt.connection() as conn:
            svc = rt.service(conn, Principal("u", "hd", "token"))
            assert svc.allowed == {"faq", "troubleshooting_guides"}  # from the YAML above
            with pytest.raises(AccessDenied):
                rt.service(conn, Principal("u", "admin", "token"))  # not a stored role
    finally:
        rt.close()


def test_token_cache_honours_revocation_after_its_ttl(conn: psycopg.Connection) -> None:
    """The server's token cache saves the lookup for ``ttl_s`` seconds, never longer: once
    the entry is that old, a revoked token is refused; unknown tokens are never cached."""
    clock = [100.0]
    cache = TokenCache(5.0, clock=lambda: clock[0])
    info, secret = create_token(conn, "dave", "helpdesk")
    assert cache.lookup(conn, secret) == info
    revoke_token(conn, info.token_id)
    clock[0] += 4.9  # within the bound: served from the cache (the documented staleness)
    assert cache.lookup(conn, secret) == info
    clock[0] += 0.1  # the entry is ttl_s old: re-checked, refused
    assert cache.lookup(conn, secret) is None
    assert cache.lookup(conn, "ndt_made_later") is None
    conn.execute(
        "INSERT INTO api_tokens (token_id, token_hash, user_name, role)"
        " VALUES ('later', %s, 'erin', 'helpdesk')",
        (hashlib.sha256(b"ndt_made_later").hexdigest(),),
    )
    later = cache.lookup(conn, "ndt_made_later")  # a miss is not remembered
    assert later is not None and later.user == "erin"
    assert TokenCache(0).lookup(conn, secret) is None  # off: every call asks the database


def test_tokens_expire_and_the_cache_does_not_outlive_them(conn: psycopg.Connection) -> None:
    """A token past its ``expires_at`` is refused by the database lookup, and a cached entry
    stops vouching for it at that moment, however long the cache's own ttl."""
    s = Settings()
    info, secret = create_token(conn, "fay", "helpdesk", timedelta(hours=1))
    assert info.expires_at is not None and not info.expired()
    assert authenticate(conn, {"authorization": f"Bearer {secret}"}, "10.0.0.9", s).user == "fay"
    conn.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_id = %s",
        (info.token_id,),
    )
    with pytest.raises(AuthError) as e:
        authenticate(conn, {"authorization": f"Bearer {secret}"}, "10.0.0.9", s)
    assert e.value.status == 401 and "expired" in e.value.detail
    assert list_tokens(conn)[-1].expired()

    cache = TokenCache(3600.0)  # an hour's ttl: only the expiry can end the entry early
    short, short_secret = create_token(conn, "gus", "helpdesk", timedelta(seconds=1))
    assert cache.lookup(conn, short_secret) == short
    assert cache.peek(short_secret) == short
    time.sleep(max(0.0, (short.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert cache.peek(short_secret) is None
    assert cache.lookup(conn, short_secret) is None

    forever, forever_secret = create_token(conn, "svc", "helpdesk", None)
    assert forever.expires_at is None and cache.lookup(conn, forever_secret) == forever


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("90d", timedelta(days=90)),
        ("30m", timedelta(minutes=30)),
        ("4W", timedelta(weeks=4)),
        (" 12h ", timedelta(hours=12)),
        ("never", None),
    ],
)
def test_token_lifetimes_parse(text: str, want: timedelta | None) -> None:
    assert parse_lifetime(text) == want


@pytest.mark.parametrize("text", ["", "0d", "5y", "-1d", "1.5h", "90", "d", "forever"])
def test_bad_token_lifetimes_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--expires-in"):
        parse_lifetime(text)


def test_with_a_proxy_secret_only_the_proxy_can_name_the_user_and_role(
    conn: psycopg.Connection,
) -> None:
    """On a shared host every local account connects from 127.0.0.1: with
    NETDOCS_PROXY_SECRET the headers count only beside the secret."""
    s = Settings(trusted_proxies="127.0.0.1", proxy_secret="s3cret-of-the-proxy")
    for sent in (None, "", "wrong", "s3cret-of-the-proxy\ns3cret-of-the-proxy"):
        headers = dict(PROXY) if sent is None else {**PROXY, "x-netdocs-proxy-secret": sent}
        with pytest.raises(AuthError) as e:
            authenticate(conn, headers, "127.0.0.1", s)
        assert e.value.status == 401 and "NETDOCS_PROXY_SECRET" in e.value.detail
        assert "s3cret" not in e.value.detail
    good = {**PROXY, "x-netdocs-proxy-secret": "s3cret-of-the-proxy"}
    assert authenticate(conn, good, "127.0.0.1", s).role == "helpdesk"
    with pytest.raises(AuthError) as e:  # no proxy headers: asked for a token, as before
        authenticate(conn, {"x-netdocs-proxy-secret": "s3cret-of-the-proxy"}, "127.0.0.1", s)
    assert "missing token" in e.value.detail


def test_a_token_once_live_does_not_queue_behind_made_up_ones(conn: psycopg.Connection) -> None:
    """The auth lane (one lookup at a time) is for tokens the server has not seen live: a
    real user's token whose cache entry has aged past the ttl goes to its slot (where the
    handler looks it up again), not behind a flood of made-up tokens into a 503."""
    clock = [100.0]
    cache = TokenCache(5.0, clock=lambda: clock[0])
    info, secret = create_token(conn, "hal", "helpdesk")
    assert cache.lookup(conn, secret) == info
    clock[0] += 60  # past the ttl: the cache no longer vouches for it on its own
    assert cache.peek(secret) is None
    gate = Gate(SimpleNamespace(settings=Settings(), tokens=cache), wait_s=0.05)  # type: ignore[arg-type]

    async def lane_busy_with_made_up_tokens() -> None:
        await gate._lane.acquire()
        await gate.admit({"authorization": f"Bearer {secret}"}, "10.0.0.9")  # returns
        with pytest.raises(Busy):
            await gate.admit({"authorization": "Bearer ndt_" + "A" * 43}, "10.0.0.9")

    try:
        asyncio.run(lane_busy_with_made_up_tokens())
    finally:
        gate.close()
    revoke_token(conn, info.token_id)
    assert cache.lookup(conn, secret) is None and not cache.was_live(secret)  # forgotten
