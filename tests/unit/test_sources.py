from pathlib import Path

import pytest

from netdocs.policy import parse_policy
from netdocs.sources import scan, split_front_matter

POLICY_DATA: dict[str, object] = {
    "tag_vocabulary": {"faq": "", "configs": "", "vpn": ""},
    "roles": {"admin": {"allow": ["*"]}},
    "rules": [{"glob": "faq/**", "tags": ["faq"]}, {"glob": "**", "tags": ["configs"]}],
}
POLICY = parse_policy(POLICY_DATA)


def make_tree(root: Path) -> None:
    (root / "faq").mkdir(parents=True)
    (root / "faq" / "q.md").write_text("# Q\n\nanswer\n")
    (root / "top.md").write_text("---\ntags: [vpn]\n---\n# Top\n\ntext\n")
    (root / "notes.txt").write_text("plain text notes\n")
    (root / "image.png").write_bytes(b"\x89PNG")  # not selected
    (root / "binary.md").write_bytes(b"# x\x00\x01\x02")
    (root / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (root / "empty.md").write_text("   \n")
    (root / "bad-front.md").write_text("---\ntags: [unclosed\n---\ntext\n")
    (root / "dangling.md").symlink_to(root / "nowhere.md")


def test_scan_reports_each_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = scan(tmp_path, POLICY)
    # An empty file is a document without text (its indexed version gets no chunks).
    assert sorted(d.doc_id for d in result.docs) == ["empty.md", "faq/q.md", "notes.txt", "top.md"]
    errors = {f.doc_id: f.error for f in result.failures}
    assert "binary" in errors["binary.md"]
    assert "UTF-8" in errors["latin1.md"]
    assert "front matter" in errors["bad-front.md"]
    assert "symbolic link" in errors["dangling.md"]
    assert result.complete


def test_tags_from_rules_and_front_matter(tmp_path: Path) -> None:
    make_tree(tmp_path)
    widening = parse_policy(
        {**POLICY_DATA, "front_matter_tags": ["vpn"]}, "widening.yaml", "front_matter_tags: [vpn]"
    )
    result = scan(tmp_path, widening)
    docs = {d.doc_id: d for d in result.docs}
    assert docs["faq/q.md"].tags == ("faq",)
    assert docs["top.md"].tags == ("configs", "vpn") and docs["top.md"].ignored_tags == ()
    assert docs["faq/q.md"].meta_hash != docs["top.md"].meta_hash
    assert result.warnings == []


def test_front_matter_tags_outside_the_allow_list_are_ignored(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = scan(tmp_path, POLICY)  # no front_matter_tags: front matter adds nothing
    docs = {d.doc_id: d for d in result.docs}
    assert docs["top.md"].tags == ("configs",) and docs["top.md"].ignored_tags == ("vpn",)
    assert len(result.warnings) == 1
    assert "top.md" in result.warnings[0] and "vpn" in result.warnings[0]


def test_oversized_file(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_text("# big\n\n" + "x" * 2000)
    result = scan(tmp_path, None, max_bytes=1000)
    assert result.failures[0].doc_id == "big.md" and "larger" in result.failures[0].error


def test_symlink_loop_makes_scan_incomplete(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "doc.md").write_text("# d\n\ntext")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    result = scan(tmp_path, None)
    assert [d.doc_id for d in result.docs] == ["a/doc.md"]
    assert not result.complete and "loop" in result.walk_errors[0]


def test_exclude_globs(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = scan(tmp_path, None, exclude=["faq/**"])
    assert "faq/q.md" not in {d.doc_id for d in result.docs}


def test_front_matter_needs_closing() -> None:
    with pytest.raises(ValueError, match="never closed"):
        split_front_matter("---\ntags: [a]\ntext")
    assert split_front_matter("no front matter") == ({}, "no front matter")


def test_unreadable_file_is_a_failure(tmp_path: Path) -> None:
    """chmod 000; as root the scan runs without CAP_DAC_OVERRIDE so the bits bite."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    (tmp_path / "ok.md").write_text("# ok\n\ntext\n")
    locked = tmp_path / "locked.md"
    locked.write_text("# secret\n")
    locked.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root's read override"
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]
    code = (
        "import json, sys; from pathlib import Path; from netdocs.sources import scan;"
        "r = scan(Path(sys.argv[1]));"
        "print(json.dumps({'docs': [d.doc_id for d in r.docs],"
        " 'failed': {f.doc_id: f.error for f in r.failures}}))"
    )
    try:
        out = subprocess.run(
            [*prefix, sys.executable, "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        locked.chmod(0o644)
    data = json.loads(out)
    assert data["docs"] == ["ok.md"]
    assert "Permission denied" in data["failed"]["locked.md"]
