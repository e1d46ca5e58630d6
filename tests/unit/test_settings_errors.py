"""A bad setting is a ConfigError naming its environment variable (the CLI's exit 2 with one
line per setting), never a traceback, and a credential's value is never quoted."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from netdocs.config import Settings, get_settings, load_settings, settings_error
from netdocs.errors import ConfigError

from ..integration.conftest import run_cli


@pytest.fixture(autouse=True)
def _fresh() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_each_bad_variable_is_named_with_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETDOCS_SERVE_WORKERS", "0")
    monkeypatch.setenv("NETDOCS_QUERY_CACHE_TTL", "soon")
    with pytest.raises(ConfigError) as info:
        get_settings()
    text = str(info.value)
    assert "NETDOCS_SERVE_WORKERS: Input should be greater than or equal to 1 (got '0')" in text
    assert "NETDOCS_QUERY_CACHE_TTL: expected a duration" in text and "'soon'" in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NETDOCS_ANSWER_TOP_K", "1000000"),
        ("NETDOCS_ANSWER_TOP_K", "-1"),
        ("NETDOCS_LLM_TIMEOUT", "0"),
        ("NETDOCS_LLM_MAX_ATTEMPTS", "0"),
    ],
)
def test_answer_limits_are_bounded(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    # A million passages would put the whole visible corpus in one prompt; -1 answered
    # every question with "nothing matched".
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}: Input should be"):
        get_settings()


def test_a_list_setting_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETDOCS_EXCLUDE", "[drafts/**")
    with pytest.raises(ConfigError, match="NETDOCS_EXCLUDE: not valid JSON"):
        load_settings()


def test_a_credentials_value_is_never_quoted() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(database_url=["postgresql://u:hunter2@db/x"], openai_api_key=["sk-hunter3"])
    text = str(settings_error(info.value))
    assert "NETDOCS_DATABASE_URL: has a value of the wrong type" in text
    assert "OPENAI_API_KEY: has a value of the wrong type" in text
    assert "hunter2" not in text and "hunter3" not in text


def test_the_cli_exits_2_with_the_message_and_no_traceback() -> None:
    out = run_cli({**os.environ, "NETDOCS_STAT_RACY_MARGIN_S": "-1"}, "status", timeout=120)
    assert out.code == 2, out.stderr
    assert out.stderr.startswith("netdocs: error: invalid settings:")
    assert "NETDOCS_STAT_RACY_MARGIN_S: Input should be greater than or equal to 0" in out.stderr
    assert "Traceback" not in out.stderr
