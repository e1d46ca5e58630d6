from pathlib import Path

import pytest

from netdocs.errors import AccessDenied, ConfigError
from netdocs.policy import glob_match, load_policy, parse_policy, visible

from ..conftest import TAGS


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("**", "a/b/c.md", True),
        ("routing/**", "routing/frr/bgp.md", True),
        ("routing/**", "routingx/a.md", False),
        ("a/*.md", "a/b/c.md", False),
        ("a/**/c.md", "a/c.md", True),
        ("a/**/c.md", "a/x/y/c.md", True),
        ("m/debugging-*.md", "m/debugging-x.md", True),
        ("x.md", "dir/x.md", False),
    ],
)
def test_glob(glob: str, path: str, expected: bool) -> None:
    assert glob_match(glob, path) is expected


def test_shared_policy_first_match_wins() -> None:
    policy = load_policy(TAGS)
    assert policy.tags_for("switching/openvswitch/faq/general.md") == ("faq",)
    assert policy.tags_for("switching/openvswitch/howto/ipsec.md") == ("vpn", "security_policies")
    assert policy.tags_for("switching/openvswitch/howto/other.md") == ("configs", "runbooks")
    assert policy.allowed_tags("admin") is None
    helpdesk = policy.allowed_tags("helpdesk")
    assert helpdesk == {"faq", "troubleshooting_guides"}
    assert not visible(policy.tags_for("vpn/wireguard/wg.md"), helpdesk)


def test_unknown_role_names_the_roles() -> None:
    policy = load_policy(TAGS)
    with pytest.raises(AccessDenied, match="helpdesk") as e:
        policy.allowed_tags("intern")
    assert "intern" in str(e.value)
    with pytest.raises(AccessDenied, match="no role"):
        policy.allowed_tags(None)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"roles": {"a": {"allow": "faq"}}}, "roles.a.allow"),
        ({"roles": {"a": {"allow": ["x"]}}, "tag_vocabulary": {"faq": ""}}, "roles.a.allow"),
        ({"roles": {"a": {"allow": ["*"]}}, "rules": [{"tags": ["x"]}]}, "rules[0].glob"),
        (
            {"roles": {"a": {"allow": ["*"]}}, "rules": [{"glob": "**", "tags": "x"}]},
            "rules[0].tags",
        ),
        ([], "<top level>"),
        ({"roles": {"a": {"allow": ["*"]}}, "front_matter_tags": "faq"}, "front_matter_tags"),
        (
            {
                "roles": {"a": {"allow": ["*"]}},
                "tag_vocabulary": {"faq": ""},
                "front_matter_tags": ["faq", "vpn"],
            },
            "front_matter_tags",
        ),
    ],
)
def test_bad_policy_names_field(data: object, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_policy(data, "p.yaml")
    assert field in str(e.value) and "p.yaml" in str(e.value)


def test_bad_yaml_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("roles: [unclosed\n")
    with pytest.raises(ConfigError, match="policy.yaml"):
        load_policy(bad)
