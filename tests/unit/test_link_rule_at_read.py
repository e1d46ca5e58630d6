"""The link rule at the read (not only at the scan) and hard links where the kernel does not
protect them (real files and links on disk; the kernel setting is read from a file the test
points to, as /proc/sys/fs/protected_hardlinks cannot be changed here)."""

import os
from pathlib import Path

import pytest

from netdocs import linkcheck
from netdocs.linkcheck import LinkRefused
from netdocs.policy import parse_policy
from netdocs.sources import read_document, read_failure, scan

POLICY = parse_policy(
    {
        "tag_vocabulary": {"faq": "", "secret": ""},
        "roles": {"admin": {"allow": ["*"]}, "hd": {"allow": ["faq"]}},
        "rules": [{"glob": "faq/**", "tags": ["faq"]}, {"glob": "**", "tags": ["secret"]}],
    }
)


def tree(root: Path) -> None:
    (root / "faq").mkdir(parents=True)
    (root / "faq" / "q.md").write_text("# Q\n\nanswer\n")
    (root / "vault").mkdir()
    (root / "vault" / "key.md").write_text("# Key\n\nthe pre-shared key\n")


def test_a_wider_link_is_refused_when_read(tmp_path: Path) -> None:
    """What the batch does after the scan: the name now links to a file of wider tags."""
    tree(tmp_path)
    assert read_document(tmp_path, "faq/q.md", POLICY, 1000).tags == ("faq",)
    (tmp_path / "faq" / "q.md").unlink()
    (tmp_path / "faq" / "q.md").symlink_to("../vault/key.md")
    with pytest.raises(LinkRefused, match="vault/key.md") as e:
        read_document(tmp_path, "faq/q.md", POLICY, 1000)
    assert read_failure("faq/q.md", e.value).details == {"outside": True}  # old version leaves
    (tmp_path / "faq" / "q.md").unlink()
    (tmp_path / "faq" / "q.md").write_text("# Q\n\nanswer\n")
    (tmp_path / "faq" / "alias.md").symlink_to("q.md")  # same tags as its target: read
    assert read_document(tmp_path, "faq/alias.md", POLICY, 1000).text.startswith("# Q")


def test_a_folder_swapped_for_a_link_is_judged_on_the_real_path(tmp_path: Path) -> None:
    tree(tmp_path)
    os.rename(tmp_path / "faq", tmp_path / "faq-old")
    (tmp_path / "faq").symlink_to("vault", target_is_directory=True)
    with pytest.raises(LinkRefused, match="vault/key.md"):
        read_document(tmp_path, "faq/key.md", POLICY, 1000)


def _kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    setting = tmp_path / "protected_hardlinks"
    if value is not None:
        setting.write_text(value + "\n")
    monkeypatch.setattr(linkcheck, "PROTECTED_HARDLINKS", str(setting))


@pytest.mark.parametrize("value", ["0", None])
def test_hard_links_are_refused_unless_the_kernel_protects_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root)
    outside.mkdir()
    (outside / "shadow.md").write_text("# Shadow\n\nroot:x:0:0\n")
    os.link(outside / "shadow.md", root / "faq" / "copy.md")
    _kernel(tmp_path, monkeypatch, value)  # "0": off; None: unknown (no such file)
    result = scan(root, POLICY)
    assert sorted(d.doc_id for d in result.docs) == ["faq/q.md", "vault/key.md"]
    (failure,) = result.failures
    assert failure.doc_id == "faq/copy.md" and "2 hard links" in failure.error
    assert failure.details == {"outside": True}


def test_hard_links_are_read_where_the_kernel_protects_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path)
    os.link(tmp_path / "faq" / "q.md", tmp_path / "faq" / "same.md")
    _kernel(tmp_path, monkeypatch, "1")
    result = scan(tmp_path, POLICY)
    assert sorted(d.doc_id for d in result.docs) == ["faq/q.md", "faq/same.md", "vault/key.md"]
    assert not result.failures
