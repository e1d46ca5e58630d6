"""NETDOCS_DOCS_ROOTS: parsing and the confinement rule (pure, real folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdocs.errors import ConfigError
from netdocs.roots import confine, parse_roots


def test_parse_roots_forms() -> None:
    assert parse_roots(None) == [] and parse_roots("") == []
    assert parse_roots("/srv/a:/srv/b") == [Path("/srv/a"), Path("/srv/b")]
    assert parse_roots('["/srv/with space"]') == [Path("/srv/with space")]
    with pytest.raises(ConfigError, match="NETDOCS_DOCS_ROOTS"):
        parse_roots("[not json")


def test_confine(tmp_path: Path) -> None:
    root, other = tmp_path / "docs", tmp_path / "other"
    (root / "team").mkdir(parents=True)
    other.mkdir()
    (root / "escape").symlink_to(other, target_is_directory=True)
    roots = [root]
    assert confine(root, roots) == root.resolve()
    with pytest.raises(ConfigError, match=r"inside the docs root .* only=\['team/\*\*'\]"):
        confine(root / "team", roots)  # its ids would be relative to team/: other tags
    assert confine(other, []) == other.resolve()  # unset: any folder
    for bad in (other, root / ".." / "other", root / "escape", tmp_path / "docs2"):
        with pytest.raises(ConfigError, match="outside the configured docs roots") as info:
            confine(bad, roots)
        assert str(bad) in str(info.value)
    assert confine(other, [root, other]) == other.resolve()
