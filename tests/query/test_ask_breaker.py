"""`netdocs ask` while the chat provider is down: the breaker opens, `ask` falls back at once
without calling it, and `netdocs status` shows the breaker's state from the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from netdocs.cli import main
from netdocs.config import get_settings
from tests.stubs.provider_server import ProviderStub


@pytest.fixture(autouse=True)
def env(
    query_db: str, add_doc: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProviderStub]:
    add_doc("routing/bgp.md", ["configs"], [("BGP", "Add a BGP peer with neighbor remote-as.")])
    with ProviderStub() as stub:
        for key, value in {
            "NETDOCS_DATABASE_URL": query_db,
            "NETDOCS_EMBEDDING_PROVIDER": "hashing",
            "NETDOCS_LLM_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "k-test",
            "ANTHROPIC_BASE_URL": stub.anthropic_base_url,
            "NETDOCS_LLM_MAX_ATTEMPTS": "1",
            "NETDOCS_PROVIDER_BREAKER_THRESHOLD": "2",
            "NETDOCS_PROVIDER_BREAKER_COOLDOWN_S": "600",
        }.items():
            monkeypatch.setenv(key, value)
        for var in ("NETDOCS_POLICY", "NETDOCS_ROLE", "NETDOCS_LLM_ROUTER"):
            monkeypatch.delenv(var, raising=False)
        get_settings.cache_clear()
        yield stub
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_falls_back_and_status_shows_the_open_breaker(
    env: ProviderStub, capsys: pytest.CaptureFixture[str]
) -> None:
    env.script("529", "529", route="messages")
    for _ in range(2):
        answer = run(capsys, "ask", "how do I add a BGP peer")
        assert answer["mode"] == "fallback" and answer["model"] is None
    breakers = run(capsys, "status")["breakers"]
    assert breakers["anthropic-chat"] == "open"  # other providers' breakers may be listed
    assert all(state != "open" for name, state in breakers.items() if name != "anthropic-chat")
    assert env.count("messages") == 2
    answer = run(capsys, "ask", "how do I add a BGP peer")
    assert answer["mode"] == "fallback"
    assert env.count("messages") == 2  # not called while open
