"""Policy files that YAML would accept but that must not load (each a ConfigError)."""

import time
from pathlib import Path

import pytest

from netdocs.errors import ConfigError
from netdocs.policy import load_policy

HEAD = "version: 1\ntag_vocabulary: {faq: f, vpn: v}\n"


def _refused(tmp_path: Path, text: str, *expected: str) -> str:
    path = tmp_path / "tags.yaml"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(ConfigError) as e:
        load_policy(path)
    assert time.monotonic() - start < 1.0
    message = str(e.value)
    assert str(path) in message, message
    for part in expected:
        assert part in message, message
    return message


def test_a_role_defined_twice_is_refused(tmp_path: Path) -> None:
    text = HEAD + 'roles:\n  helpdesk: {allow: [faq]}\n  helpdesk: {allow: ["*"]}\n'
    _refused(tmp_path, text, "duplicate key 'helpdesk'", "line 5")


def test_allow_given_twice_is_refused(tmp_path: Path) -> None:
    text = HEAD + 'roles:\n  helpdesk:\n    allow: [faq]\n    allow: ["*"]\n'
    _refused(tmp_path, text, "duplicate key 'allow'", "line 6")


def test_a_wildcard_among_tags_is_refused(tmp_path: Path) -> None:
    text = HEAD + 'roles:\n  helpdesk: {allow: [faq, "*"]}\n'
    _refused(tmp_path, text, "roles.helpdesk.allow", "stand alone")


@pytest.mark.parametrize("key", ["yes", "~", "1"])
def test_a_role_name_that_is_not_a_string_is_refused(tmp_path: Path, key: str) -> None:
    text = HEAD + f'roles:\n  admin: {{allow: ["*"]}}\n  {key}: {{allow: [faq]}}\n'
    _refused(tmp_path, text, "roles.", "must be a non-empty string")


def test_a_vocabulary_entry_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    text = 'tag_vocabulary: [faq, yes]\nroles:\n  admin: {allow: ["*"]}\n'
    _refused(tmp_path, text, "tag_vocabulary", "True")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('rules: [{glob: "**", tags: ["*"]}]\n', "rules[0].tags"),
        ('front_matter_tags: ["*"]\n', "front_matter_tags"),
    ],
)
def test_the_wildcard_is_never_a_document_tag(tmp_path: Path, extra: str, field: str) -> None:
    text = 'roles:\n  admin: {allow: ["*"]}\n' + extra
    _refused(tmp_path, text, field, '"*" is not a tag')


def test_a_wildcard_in_the_vocabulary_is_refused(tmp_path: Path) -> None:
    text = 'tag_vocabulary: {"*": all}\nroles:\n  admin: {allow: ["*"]}\n'
    _refused(tmp_path, text, "tag_vocabulary", '"*" is not a tag')


def test_nested_aliases_are_refused_at_once(tmp_path: Path) -> None:
    names = "abcdefghij"
    lines = ['  a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "tag_vocabulary:\n" + "\n".join(lines) + '\nroles:\n  admin: {allow: ["*"]}\n'
    _refused(tmp_path, text, "aliases are not allowed", "line 2")


def test_an_anchor_alone_is_refused(tmp_path: Path) -> None:
    text = 'roles:\n  admin: &everything {allow: ["*"]}\n'
    _refused(tmp_path, text, "anchors/aliases are not allowed", "line 2")


@pytest.mark.parametrize(
    ("body", "field", "key"),
    [
        ('roles:\n  helpdesk: {allow: ["*"], deny: [vpn]}\n', "roles.helpdesk", "deny"),
        (
            "roles:\n  hd: {allow: [faq]}\nrules:\n"
            '  - {glob: "**", tags: [faq], except: "vpn/**"}\n',
            "rules[0]",
            "except",
        ),
        ("roles:\n  hd: {allow: [faq]}\ndefault_deny: true\n", "<top level>", "default_deny"),
    ],
)
def test_a_key_the_parser_would_ignore_is_refused(
    tmp_path: Path, body: str, field: str, key: str
) -> None:
    # A `deny:` read as if absent would grant the role everything its allow list says.
    _refused(tmp_path, HEAD + body, field, f"unknown key(s) ['{key}']")


@pytest.mark.parametrize(
    "glob", ["/vpn/**", "C:/vpn/**", "vpn\\\\keys.md", "../vpn/**", "vpn//keys.md", "vpn/./x.md"]
)
def test_a_glob_that_can_never_match_is_refused(tmp_path: Path, glob: str) -> None:
    body = f'roles:\n  hd: {{allow: [faq]}}\nrules:\n  - glob: "{glob}"\n    tags: [vpn]\n'
    _refused(tmp_path, HEAD + body, "rules[0].glob")


def test_folder_and_dot_slash_globs_mean_what_gitignore_means(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    rules = '  - {glob: "vpn/", tags: [vpn]}\n  - {glob: "./faq/*.md", tags: [faq]}\n'
    path.write_text(HEAD + "roles:\n  hd: {allow: [faq]}\nrules:\n" + rules)
    policy = load_policy(path)
    assert policy.tags_for("vpn/wireguard/keys.md") == ("vpn",)
    assert policy.tags_for("faq/a.md") == ("faq",)


def test_a_newline_in_a_file_name_does_not_escape_a_double_star_rule(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    rules = '  - {glob: "vpn/**", tags: [vpn]}\n  - {glob: "**/*.md", tags: [faq]}\n'
    path.write_text(HEAD + "roles:\n  hd: {allow: [faq]}\nrules:\n" + rules)
    policy = load_policy(path)
    for name in ("vpn/keys\n.md", "vpn/a\nb/keys.md", "vpn/\n/x.md"):
        assert policy.tags_for(name) == ("vpn",), repr(name)
    assert policy.tags_for("faq/x\ny.md") == ("faq",)
