"""Path scopes of backfills: pattern checks and matching (pure), and the CLI's exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdocs.cli import main
from netdocs.errors import ConfigError
from netdocs.ingest.scope import check_patterns, in_scope, restrict


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("/etc/**", "absolute"),
        ("~/docs", "absolute"),
        ("C:/docs", "absolute"),
        ("../other/**", "'..'"),
        ("routing/../../etc", "'..'"),
        ("", "empty"),
        ("./", "empty"),
        ("routing\\bird", "'/'"),
    ],
)
def test_bad_patterns_are_refused_by_name(pattern: str, why: str) -> None:
    with pytest.raises(ConfigError) as e:
        check_patterns(["routing/**", pattern])
    assert repr(pattern) in str(e.value) and why in str(e.value)


def test_patterns_normalised() -> None:
    assert check_patterns(None) == ()
    assert check_patterns(["./routing/", "routing/**", " dns "]) == ("routing/**", "dns")


@pytest.mark.parametrize(
    ("doc_id", "patterns", "inside"),
    [
        ("routing/frr/bgp/route-reflector.md", ["routing/**"], True),
        ("routing/frr/bgp/route-reflector.md", ["routing"], True),  # a folder: all beneath
        ("routing/frr/bgp/route-reflector.md", ["routing/frr/*.md"], False),  # one level
        ("routing/frr/overview.md", ["routing/frr/*.md"], True),
        ("routing-old/x.md", ["routing/**"], False),
        ("routing-old/x.md", ["routing"], False),
        ("dns/bind9/security.md", ["routing/**", "dns/bind9"], True),
        ("time-sync/chrony/faq/x.md", ["**/faq/**"], True),
        ("switching/lldpd/lldpd.md", ["**/faq/**"], False),
        ("anything.md", [], True),  # no scope: everything
    ],
)
def test_in_scope(doc_id: str, patterns: list[str], inside: bool) -> None:
    assert in_scope(doc_id, check_patterns(patterns)) is inside


def test_restrict_keeps_only_documents_inside() -> None:
    stored = {"routing/a.md": 1, "dns/b.md": 2, "routing/x/c.md": 3}
    assert restrict(stored, ("routing/**",)) == {"routing/a.md": 1, "routing/x/c.md": 3}
    assert restrict(stored, ()) == stored


def test_cli_refuses_a_bad_pattern_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path), "--only", "routing/**", "--only", "../x/**"]) == 2
    err = capsys.readouterr().err
    assert "'../x/**'" in err and "Traceback" not in err
