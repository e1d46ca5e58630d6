"""`netdocs ask` while the chat provider is down: the breaker opens, `ask` falls back at once
without calling it, and `netdocs status` shows the breaker's state from the database. While
it is slow: one deadline bounds all of an ask's calls, and it is not the provider's fault."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from netdocs.cli import main
from netdocs.config import get_settings
from netdocs.query.llm import breaker_for
from tests.stubs.provider_server import ProviderStub, RecordedRequest


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


def _router_then_answer(req: RecordedRequest) -> str:
    system = str((req.body or {}).get("system", ""))
    return "YES" if system.startswith("You decide whether") else "Add the peer [1]."


def _ask_with_deadline(
    env: ProviderStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    deadline_s: str,
    *faults: str,
) -> tuple[Any, float]:
    monkeypatch.setenv("NETDOCS_LLM_ROUTER", "true")
    monkeypatch.setenv("NETDOCS_ASK_DEADLINE_S", deadline_s)
    get_settings.cache_clear()
    env.set_reply(_router_then_answer)
    env.script(*faults, route="messages")
    started = time.monotonic()
    answer = run(capsys, "ask", "how do I add a BGP peer")
    return answer, time.monotonic() - started


def test_the_router_and_answer_calls_share_one_deadline(
    env: ProviderStub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call alone is well inside NETDOCS_LLM_TIMEOUT (60 s); the ask's deadline is what
    stops the second: not started when under a second is left, cut when it runs past."""
    answer, _ = _ask_with_deadline(env, capsys, monkeypatch, "1.8", "slow:1")
    assert answer["mode"] == "fallback", answer
    assert "deadline" in answer["answer"] and "too little" in answer["answer"]
    assert env.count("messages") == 1  # the answer call was never made

    answer, took = _ask_with_deadline(env, capsys, monkeypatch, "3", "slow:0.5", "slow:8")
    assert answer["mode"] == "fallback", answer
    assert "deadline" in answer["answer"] and "cut" in answer["answer"]
    assert env.count("messages") == 3 and took < 6  # cut at ~3 s, not after the stub's 8
    breaker = breaker_for("anthropic-chat", env.anthropic_base_url, 2, 600).snapshot()
    assert (breaker.state, breaker.failures) == ("closed", 0)  # the deadline's, not theirs

    answer, _ = _ask_with_deadline(env, capsys, monkeypatch, "30", "slow:0.5", "slow:0.5")
    assert answer["mode"] == "llm" and answer["answer"].startswith("Add the peer")
