"""Fail-closed role resolution (pure part) and the stale-age setting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from netdocs.config import Settings
from netdocs.errors import AccessDenied
from netdocs.policy import parse_policy
from netdocs.query.access import role_tags

POLICY = parse_policy(
    {
        "tag_vocabulary": {"faq": "", "vpn": ""},
        "roles": {"admin": {"allow": ["*"]}, "helpdesk": {"allow": ["faq"]}},
        "rules": [{"glob": "**", "tags": ["vpn"]}],
    },
    "p.yaml",
)


def test_a_role_without_any_policy_is_refused() -> None:
    with pytest.raises(AccessDenied, match="no access policy"):
        role_tags(None, "helpdesk")
    assert role_tags(None, None) is None  # no policy, no role: nothing to check


@pytest.mark.parametrize("role", [None, "intern"])
def test_under_a_policy_a_missing_or_unknown_role_is_refused(role: str | None) -> None:
    with pytest.raises(AccessDenied, match="admin, helpdesk"):
        role_tags(POLICY, role)


def test_known_roles() -> None:
    assert role_tags(POLICY, "helpdesk") == {"faq"}
    assert role_tags(POLICY, "admin") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("P7D", timedelta(days=7)),
        ("0", timedelta(0)),
    ],
)
def test_stale_max_age_durations(value: str, expected: timedelta) -> None:
    assert Settings(stale_max_age=value).stale_max_age == expected


@pytest.mark.parametrize("value", ["-P1D", "soon", "7 days please"])
def test_bad_stale_max_age_names_the_setting(value: str) -> None:
    with pytest.raises(ValidationError, match="stale_max_age"):
        Settings(stale_max_age=value)


def test_stale_max_age_defaults_to_seven_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETDOCS_STALE_MAX_AGE", raising=False)
    assert Settings().stale_max_age == timedelta(days=7)
