import os
from pathlib import Path

import pytest

from netdocs.confine import open_beneath
from netdocs.policy import parse_policy
from netdocs.sources import ScanResult, read_document, scan, split_front_matter

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


def test_symlink_loop_makes_only_its_folder_incomplete(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "doc.md").write_text("# d\n\ntext")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    result = scan(tmp_path, None)
    assert [d.doc_id for d in result.docs] == ["a/doc.md"]
    assert list(result.incomplete) == ["a/loop"] and "loop" in result.incomplete["a/loop"]
    assert [f.doc_id for f in result.failures] == ["a/loop"]
    assert result.held_back("a/loop/doc.md") and result.held_back("a/loop")
    assert not result.held_back("a/doc.md") and not result.held_back("a/loopy.md")


def test_folder_reached_twice_is_walked_once_at_its_real_place(tmp_path: Path) -> None:
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "real" / "deep" / "doc.md").write_text("# d\n\ntext")
    (tmp_path / "a-link").symlink_to("real", target_is_directory=True)
    (tmp_path / "b-link").symlink_to(tmp_path / "real" / "deep", target_is_directory=True)
    (tmp_path / "real" / "sibling").symlink_to("../real/deep", target_is_directory=True)
    result = scan(tmp_path, None)
    assert [d.doc_id for d in result.docs] == ["real/deep/doc.md"]
    assert result.failures == [] and result.complete


def test_links_out_of_the_root_are_failures_never_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("# s\n\nsecret")
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "leak.png").symlink_to(outside / "secret.md")  # not selected: ignored
    (root / "ext").symlink_to(outside, target_is_directory=True)
    (root / "up").symlink_to("..", target_is_directory=True)  # the root's parent: outside
    (root / "inside.md").symlink_to("real.md")
    (root / "real.md").write_text("# r\n\nreal")
    result = scan(root, None)
    assert sorted(d.doc_id for d in result.docs) == ["inside.md", "real.md"]
    errors = {f.doc_id: f.error for f in result.failures}
    assert errors == dict.fromkeys(["ext", "leak.md", "up"], "outside the docs root")
    assert result.complete and result.unreadable == set()  # outside: not kept in the index
    with pytest.raises(ValueError, match="outside the docs root"):
        read_document(root, "ext/secret.md", None, 1000)


def test_open_refuses_a_component_swapped_for_a_link(tmp_path: Path) -> None:
    """open_beneath gets a path already resolved: any link in it is a swap, not followed."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.md").write_text("secret")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "root" / "f.md").symlink_to(tmp_path / "outside" / "x.md")
    for rel in ("a/x.md", "f.md"):
        with pytest.raises(ValueError, match="symbolic link"):
            open_beneath(str(tmp_path / "root"), rel)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    result = scan(tmp_path, None)
    assert {f.doc_id: f.error for f in result.failures} == {"pipe.md": "not a regular file"}


def test_undecodable_names_are_failures_with_a_safe_name(tmp_path: Path) -> None:
    base = os.fsencode(tmp_path)
    fd = os.open(base + b"/bad\xff.md", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"# fine\n\ncontent")
    os.close(fd)
    os.mkdir(base + b"/dir\xfe")
    (tmp_path / "ok.md").write_text("# ok\n\ntext")
    result = scan(tmp_path, None)
    assert [d.doc_id for d in result.docs] == ["ok.md"]
    errors = {f.doc_id: f.error for f in result.failures}
    assert errors == {
        "bad\\xff.md": "file name is not valid UTF-8",
        "dir\\xfe": "folder name is not valid UTF-8",
    }
    for doc_id in errors:
        doc_id.encode("utf-8")  # storable


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


def test_an_unlistable_folder_holds_back_only_its_subtree(tmp_path: Path) -> None:
    """chmod 000 on a folder; as root the scan runs without the read overrides."""
    import json
    import shutil
    import subprocess
    import sys

    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.md").write_text("# a\n\ntext")
    (tmp_path / "shut").mkdir()
    (tmp_path / "shut" / "b.md").write_text("# b\n\ntext")
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root's read override"
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]
    code = (
        "import json, sys; from pathlib import Path; from netdocs.sources import scan;"
        "r = scan(Path(sys.argv[1]));"
        "print(json.dumps({'docs': [d.doc_id for d in r.docs], 'incomplete': r.incomplete,"
        " 'held': [d for d in ('shut/b.md', 'open/a.md', 'shutter.md') if r.held_back(d)]}))"
    )
    (tmp_path / "shut").chmod(0)
    try:
        out = subprocess.run(
            [*prefix, sys.executable, "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        (tmp_path / "shut").chmod(0o755)
    data = json.loads(out)
    assert data["docs"] == ["open/a.md"]
    assert list(data["incomplete"]) == ["shut"] and "cannot list" in data["incomplete"]["shut"]
    assert data["held"] == ["shut/b.md"]


def _nest(root: Path, levels: int, remove: bool = False) -> None:
    """Make (or remove) ``levels`` folders ``d`` nested in ``root``, one level at a time
    (pathlib, os.makedirs and shutil.rmtree recurse once per level)."""
    fds = [os.open(root, os.O_RDONLY)]
    try:
        for _ in range(levels):
            if not remove:
                os.mkdir("d", dir_fd=fds[-1])
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        if remove:
            for parent in reversed(fds[:-1]):
                os.close(fds.pop())
                os.rmdir("d", dir_fd=parent)
    finally:
        for fd in fds:
            os.close(fd)


def test_folders_nested_too_deep_are_cut_and_the_rest_is_scanned(tmp_path: Path) -> None:
    """1,100 nested folders once raised RecursionError: nothing was indexed."""
    from netdocs.confine import MAX_DEPTH

    (tmp_path / "top.md").write_text("# Top\n\ntext\n")
    _nest(tmp_path, 1100)
    bottom = tmp_path.joinpath(*["d"] * 1100, "bottom.md")
    bottom.write_text("# Bottom\n\ntext\n")
    last_walked = "/".join(["d"] * MAX_DEPTH)
    (tmp_path / last_walked / "last.md").write_text("# Last\n\ntext\n")
    try:
        result: ScanResult | None = scan(tmp_path, None)
    except RecursionError:  # not raised through: its traceback is 1,000 huge frames
        result = None
    finally:
        bottom.unlink()
        (tmp_path / last_walked / "last.md").unlink()
        _nest(tmp_path, 1100, remove=True)
    assert result is not None, "the walk raised RecursionError"
    assert sorted(d.doc_id for d in result.docs) == [f"{last_walked}/last.md", "top.md"]
    cut = f"{last_walked}/d"
    assert result.incomplete == {cut: f"folder nesting deeper than {MAX_DEPTH} levels"}
    assert [f.doc_id for f in result.failures] == [cut]
    assert result.held_back(str(bottom.relative_to(tmp_path)))


def test_a_front_matter_tag_with_a_control_character_fails_its_file_only(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("---\ntags: [vpn]\n---\n# Ok\n\ntext\n")
    (tmp_path / "nul.md").write_text('---\ntags: [vpn, "bad\\0tag"]\n---\n# Nul\n\ntext\n')
    result = scan(tmp_path, POLICY)
    assert [d.doc_id for d in result.docs] == ["ok.md"]
    [failure] = result.failures
    assert failure.doc_id == "nul.md"
    assert failure.error == "front matter tag 'bad\\x00tag' contains a control character"
