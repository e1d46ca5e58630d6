"""What HTTP clients are told when a role is refused or the policy is unusable: a generic
reason, never the policy's path, its other roles or its tags (those go to the server log)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from netdocs.config import Settings
from netdocs.db import connect
from netdocs.server.app import create_app
from netdocs.server.runtime import Runtime
from netdocs.server.tokens import create_token
from netdocs.store.schema import migrate

RULES = "rules:\n  - glob: '**'\n    tags: [secret_tag]\n"


def _rewrite(policy: Path, text: str, mtime: int) -> None:
    policy.write_text(text, encoding="utf-8")
    os.utime(policy, (mtime, mtime))  # a new mtime whatever the clock's resolution


def test_refusals_do_not_reveal_the_policy(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrate(db_url)
    policy = tmp_path / "private-tags.yaml"
    hidden = "  hidden_role: {allow: [secret_tag]}\n"
    policy.write_text("roles:\n  ops: {allow: [faq]}\n" + hidden + RULES)
    with connect(db_url, autocommit=True) as conn:
        _, token = create_token(conn, "u", "ops")
    rt = Runtime(Settings(policy=policy, embedding_provider="hashing"), db_url)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(rt)) as client:
            _rewrite(policy, "roles:\n" + hidden + RULES, 1)
            r = client.post("/v1/search", json={"question": "bgp"}, headers=auth)
            assert r.status_code == 403 and r.json() == {"detail": "role not permitted"}
            for secret in (str(policy), "private-tags", "hidden_role", "secret_tag"):
                assert secret not in r.text
            assert "hidden_role" in caplog.text  # the operator still sees why

            _rewrite(policy, "roles:\n  ops: {allow: [faq]}\n  ops: {allow: [secret_tag]}\n", 2)
            r = client.post("/v1/search", json={"question": "bgp"}, headers=auth)
            health = client.get("/healthz")
            assert r.status_code == 400 and "policy invalid" in r.json()["detail"]
            assert health.status_code == 503 and "invalid" in health.json()["policy"]
            for text in (r.text, health.text):
                for secret in (str(policy), "private-tags", "secret_tag", "duplicate key"):
                    assert secret not in text, text
            assert caplog.text.count("duplicate key 'ops'") >= 2
    finally:
        rt.close()


def test_a_body_not_declared_json_is_refused(db_url: str, tmp_path: Path) -> None:
    """A page on another site can post a body without a preflight only as text/plain or with
    no Content-Type: such a body is not read as a question (a cookie- or proxy-authenticated
    deployment would otherwise take it as the victim's)."""
    migrate(db_url)
    policy = tmp_path / "tags.yaml"
    policy.write_text("roles:\n  ops: {allow: [faq]}\n" + RULES)
    with connect(db_url, autocommit=True) as conn:
        _, token = create_token(conn, "u", "ops")
    rt = Runtime(Settings(policy=policy, embedding_provider="hashing"), db_url)
    auth = {"Authorization": f"Bearer {token}"}
    body = '{"question": "bgp"}'
    try:
        with TestClient(create_app(rt)) as client:
            for kind in ({"Content-Type": "text/plain"}, {}):
                r = client.post("/v1/search", content=body, headers={**auth, **kind})
                assert r.status_code == 422, (kind, r.text)
            ok = client.post(
                "/v1/search", content=body, headers={**auth, "Content-Type": "application/json"}
            )
            assert ok.status_code == 200
    finally:
        rt.close()
