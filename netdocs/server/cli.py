"""``netdocs serve`` and ``netdocs token create|list|revoke``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from netdocs.cli_support import migrated_connection, migrated_url

if TYPE_CHECKING:
    from netdocs.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` and ``token`` subcommands."""
    p = subparsers.add_parser("serve", help="the HTTP API and the ask page for the team")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--policy", type=Path, help="access-policy file (default: NETDOCS_POLICY)")
    p.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port (default: NETDOCS_SERVE_WORKERS, 1)",
    )
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("token", help="API tokens for `netdocs serve`")
    sub = p.add_subparsers(dest="token_command", required=True)
    c = sub.add_parser("create", help="create a token (printed once)")
    c.add_argument("--user", required=True, help="who the token belongs to (audit log)")
    c.add_argument("--role", required=True, help="a role of the access policy")
    c.add_argument("--policy", type=Path, help="access-policy file (default: NETDOCS_POLICY)")
    c.add_argument(
        "--expires-in",
        default="90d",
        help="lifetime: 30m, 12h, 90d, 4w, or never (default 90d); refused after it",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=cmd_token_create)
    ls = sub.add_parser("list", help="list tokens (never the secrets)")
    ls.add_argument("--json", action="store_true", help="print one JSON array")
    ls.set_defaults(func=cmd_token_list)
    r = sub.add_parser("revoke", help="revoke a token by its id")
    r.add_argument("token_id")
    r.set_defaults(func=cmd_token_revoke)


def _port(text: str) -> int:
    """A TCP port number, 1..65535 (argparse names the option on a bad one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, not {port}")
    return port


def _settings(policy: Path | None = None) -> Settings:
    from netdocs.config import get_settings

    settings = get_settings()
    return settings.model_copy(update={"policy": policy}) if policy else settings


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted (in this process, or in ``--workers`` processes)."""
    import uvicorn

    from netdocs.errors import ConfigError
    from netdocs.server.app import create_app
    from netdocs.server.runtime import Runtime

    settings = _settings(args.policy)
    workers = settings.serve_workers if args.workers is None else args.workers
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers must be from 1 to 64, not {workers}")
    options = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": False,  # the TCP peer is the client; trusted proxies are ours
        "timeout_keep_alive": settings.serve_keepalive_s,  # outlive the clients' pools
        # uvicorn counts the connection asking too: N + 1 lets N connections be served
        "limit_concurrency": settings.serve_max_connections + 1,
        "log_level": "info" if args.verbose else "warning",
        "access_log": bool(args.verbose),
    }
    rt = Runtime(settings, migrated_url())  # schema, policy and pool checked before serving
    if settings.trusted_proxies.strip() and settings.proxy_secret is None:
        print(
            "netdocs: warning: NETDOCS_TRUSTED_PROXIES without NETDOCS_PROXY_SECRET: anything"
            " that can connect from those addresses can name any user and role",
            file=sys.stderr,
        )
    if workers > 1:
        rt.close()
        if args.policy is not None:  # the workers read their settings from the environment
            os.environ["NETDOCS_POLICY"] = str(args.policy.resolve())
        _serving(args, workers)
        uvicorn.run("netdocs.server.asgi:app_from_env", factory=True, workers=workers, **options)
        return 0
    try:
        rt.embedder  # load the question model now, not in the first requests  # noqa: B018
        app = create_app(rt)
        _serving(args, 1)
        uvicorn.run(app, **options)
    finally:
        rt.close()
    return 0


def _serving(args: argparse.Namespace, workers: int) -> None:
    what = f" ({workers} worker processes)" if workers > 1 else ""
    print(f"netdocs: serving on http://{args.host}:{args.port}{what}", file=sys.stderr, flush=True)


def cmd_token_create(args: argparse.Namespace) -> int:
    """Create a token bound to --user and --role (a role the policy defines)."""
    from netdocs.errors import ConfigError
    from netdocs.policy import load_policy
    from netdocs.server.tokens import create_token, parse_lifetime
    from netdocs.store.policy_store import load_stored_policy

    lifetime = parse_lifetime(args.expires_in)  # a bad value: exit 2 before any database work
    settings = _settings(args.policy)
    with migrated_connection() as conn:
        if settings.policy is not None:
            policy = load_policy(settings.policy)
        else:
            stored = load_stored_policy(conn)
            if stored is None:
                raise ConfigError(
                    "no access policy: the index stores none; set NETDOCS_POLICY or pass --policy"
                )
            policy = stored.policy()
        policy.allowed_tags(args.role)  # unknown role -> exit 2
        info, secret = create_token(conn, args.user, args.role, lifetime)
    if args.json:
        print(json.dumps({**info.to_json(), "token": secret}))
    else:
        until = f"until {info.expires_at:%Y-%m-%d %H:%M %Z}" if info.expires_at else "no expiry"
        print(
            f"token {info.token_id} for {info.user} as {info.role}, {until}"
            " (shown once, keep it safe):"
        )
        print(secret)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """List the tokens: id, user, role, state (active, expired, revoked), last used."""
    from netdocs.server.tokens import list_tokens

    with migrated_connection() as conn:
        tokens = list_tokens(conn)
    if args.json:
        print(json.dumps([t.to_json() for t in tokens]))
        return 0
    if not tokens:
        print("no tokens")
    for t in tokens:
        if t.revoked_at:
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
        elif t.expires_at:
            state = f"{'expired' if t.expired() else 'expires'} {t.expires_at:%Y-%m-%d %H:%M}"
        else:
            state = "active, no expiry"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(f"{t.token_id}  {t.user:<16} {t.role:<20} {state:<24} last used {used}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token (unknown id: exit 2)."""
    from netdocs.server.tokens import revoke_token

    with migrated_connection() as conn:
        info = revoke_token(conn, args.token_id)
    print(f"revoked token {info.token_id} ({info.user}, {info.role})")
    return 0
