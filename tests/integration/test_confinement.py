"""Confinement through the whole ingest flow, on a copy of the bundled sample: links leading
out of the docs root are per-file failures and never read; links inside it are fine; a
folder reached twice is walked once; a real loop holds back only its own subtree's deletes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from netdocs.db import connection

from ..conftest import REPO, SAMPLE

pytestmark = pytest.mark.usefixtures("prefect_harness")
POLICY = REPO / "examples" / "tags.yaml"
PASSWD_LINE = "root:x:0:0"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The bundled sample copied into the test's folder."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "docs"))


def _indexed(url: str) -> set[str]:
    with connection(url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT doc_id FROM documents").fetchall()}


def _failed(result: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["error"] for f in result["failed"]}


def test_links_out_of_the_root_are_failures_and_never_read(
    sample: Path, tmp_path: Path, db_url: str
) -> None:
    from flows.ingest import ingest
    from netdocs.query.service import SearchService

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Secret\n\n{PASSWD_LINE}:outside-folder-marker\n")
    (sample / "leak.md").write_text("# Leak\n\na plain file for now\n")  # indexed first,
    (sample / "routing" / "ext").mkdir()  # then swapped for links leading out of the root
    (sample / "routing" / "ext" / "old.md").write_text("# Old\n\nindexed while inside\n")
    assert ingest(path=str(sample), policy=str(POLICY))["failed"] == []
    (sample / "leak.md").unlink()
    (sample / "leak.md").symlink_to("/etc/passwd")
    shutil.rmtree(sample / "routing" / "ext")
    (sample / "routing" / "ext").symlink_to(outside, target_is_directory=True)
    (sample / "bfd-alias.md").symlink_to(sample / "routing" / "frr" / "bfd.md")  # inside: fine

    result = ingest(path=str(sample), policy=str(POLICY))
    failed = _failed(result)
    assert set(failed) == {"leak.md", "routing/ext"}
    assert all("outside the docs root" in e for e in failed.values())
    assert result["deleted"] == 2  # their earlier versions leave the index
    indexed = _indexed(db_url)
    assert "bfd-alias.md" in indexed and "routing/frr/bfd.md" in indexed
    assert not {d for d in indexed if d == "leak.md" or d.startswith("routing/ext")}
    with connection(db_url) as conn:
        leaked = conn.execute(
            "SELECT count(*) FROM chunks WHERE text LIKE %s OR text LIKE %s",
            (f"%{PASSWD_LINE}%", "%outside-folder-marker%"),
        ).fetchone()
    assert leaked == (0,)
    with SearchService.for_role("network_engineer", POLICY) as service:
        for mode in ("fused", "fulltext"):
            hits = service.search("root x 0 0 root bin bash", k=20, mode=mode)  # type: ignore[arg-type]
            assert hits and not any(PASSWD_LINE in h.text for h in hits)


def test_file_swapped_for_an_outside_link_after_the_scan_is_not_read(
    sample: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.ingest as t
    from flows.ingest import ingest

    victim = sample / "routing" / "frr" / "glossary.md"
    real_make_plan = t.make_plan

    def plan_then_swap(*args: Any, **kwargs: Any) -> Any:
        plan = real_make_plan(*args, **kwargs)
        victim.unlink()
        victim.symlink_to("/etc/passwd")  # scanned as a plain file, a link when read
        return plan

    monkeypatch.setattr(t, "make_plan", plan_then_swap)
    result = ingest(path=str(sample))
    monkeypatch.setattr(t, "make_plan", real_make_plan)
    assert _failed(result) == {"routing/frr/glossary.md": "outside the docs root"}
    assert "routing/frr/glossary.md" not in _indexed(db_url)
    with connection(db_url) as conn:
        n = conn.execute(
            "SELECT count(*) FROM chunks WHERE text LIKE %s", (f"%{PASSWD_LINE}%",)
        ).fetchone()
    assert n == (0,)


def test_folder_reached_twice_is_walked_once_and_deletes_still_happen(
    sample: Path, db_url: str
) -> None:
    from flows.ingest import ingest

    (sample / "alias-one").symlink_to("routing/bird", target_is_directory=True)
    (sample / "alias-two").symlink_to("routing/bird", target_is_directory=True)
    first = ingest(path=str(sample))
    assert first["failed"] == [] and first["messages"] == []
    indexed = _indexed(db_url)
    assert "routing/bird/architecture.md" in indexed
    assert not {d for d in indexed if d.startswith("alias-")}  # walked once, at its real place

    gone = "dns/bind9/troubleshooting.md"
    (sample / gone).unlink()
    second = ingest(path=str(sample))
    assert second["failed"] == [] and second["deleted"] == 1
    assert gone not in _indexed(db_url)


def test_a_real_loop_holds_back_only_its_subtree_deletes(sample: Path, db_url: str) -> None:
    from flows.ingest import ingest

    sub = sample / "routing" / "bird" / "sub"
    sub.mkdir()
    (sub / "kept.md").write_text("# Kept\n\nindexed while sub was a real folder\n")
    assert ingest(path=str(sample))["failed"] == []
    assert "routing/bird/sub/kept.md" in _indexed(db_url)

    shutil.rmtree(sub)
    sub.symlink_to("..", target_is_directory=True)  # routing/bird/sub -> routing: a loop
    gone = "vpn/wireguard/wg.md"
    (sample / gone).unlink()
    run = ingest(path=str(sample))
    failed = _failed(run)
    assert set(failed) == {"routing/bird/sub"} and "loop" in failed["routing/bird/sub"]
    assert run["deleted"] == 1
    indexed = _indexed(db_url)
    assert gone not in indexed  # the deletion elsewhere went through
    assert "routing/bird/sub/kept.md" in indexed  # under the loop: its deletion waits
    assert any("postponed" in m and "routing/bird/sub" in m for m in run["messages"])


def _edit_then_swap_after_the_scan(
    sample: Path, monkeypatch: pytest.MonkeyPatch, target: str, policy: str | None
) -> dict[str, Any]:
    """Index the sample, edit the FRR glossary (so it is re-read), and let the next ingest
    find it swapped for a link to ``target`` between its plan and its read; its result."""
    import tasks.ingest as t
    from flows.ingest import ingest

    victim = sample / "routing" / "frr" / "glossary.md"
    assert ingest(path=str(sample), policy=policy)["failed"] == []
    victim.write_text(victim.read_text() + "\n\nAn edited paragraph.\n")  # to be re-read
    real_make_plan = t.make_plan

    def plan_then_swap(*args: Any, **kwargs: Any) -> Any:
        plan = real_make_plan(*args, **kwargs)
        victim.unlink()
        victim.symlink_to(target)
        return plan

    monkeypatch.setattr(t, "make_plan", plan_then_swap)
    result: dict[str, Any] = ingest(path=str(sample), policy=policy)
    return result


def test_a_link_cannot_give_a_file_wider_tags_or_bring_in_an_excluded_one(
    sample: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helpdesk-visible name (the `faq` glossary) made a link to a firewall file, and an
    included name linked to an excluded file: both refused by name, the glossary's earlier
    version withdrawn; the firewall file stays indexed at its own path with its own tags."""
    from flows.ingest import ingest
    from netdocs.config import get_settings
    from netdocs.query.service import SearchService

    monkeypatch.setenv("NETDOCS_EXCLUDE", '["private/**"]')
    get_settings.cache_clear()
    (sample / "private").mkdir()
    (sample / "private" / "hidden.md").write_text("# Draft\n\nEXCLUDEDCANARY draft text.\n")
    assert ingest(path=str(sample), policy=str(POLICY))["failed"] == []
    glossary = sample / "routing" / "frr" / "glossary.md"
    glossary.unlink()
    glossary.symlink_to("../../firewall/nftables/nft/chains.md")
    (sample / "pub.md").symlink_to("private/hidden.md")
    (sample / "bfd-alias.md").symlink_to("routing/frr/bfd.md")  # narrower tags: fine

    result = ingest(path=str(sample), policy=str(POLICY))
    failed = _failed(result)
    assert set(failed) == {"routing/frr/glossary.md", "pub.md"}
    assert "firewall/nftables/nft/chains.md" in failed["routing/frr/glossary.md"]
    assert "NETDOCS_EXCLUDE" in failed["pub.md"]
    indexed = _indexed(db_url)
    assert {"firewall/nftables/nft/chains.md", "bfd-alias.md"} <= indexed
    assert not {"routing/frr/glossary.md", "pub.md", "private/hidden.md"} & indexed
    chains = (sample / "firewall" / "nftables" / "nft" / "chains.md").read_text()
    words = " ".join(chains.split()[5:25])  # a passage of the firewall file
    with SearchService.for_role("helpdesk", POLICY) as service:
        hits = service.search(words, k=20, mode="fulltext")
        assert not any(h.path.startswith(("routing/frr/glossary", "firewall/")) for h in hits)
    with connection(db_url) as conn:
        canary = conn.execute("SELECT count(*) FROM chunks WHERE text LIKE '%EXCLUDEDCANARY%'")
        assert canary.fetchone() == (0,)


def test_an_indexed_file_swapped_for_an_outside_link_is_removed_not_kept_stale(
    sample: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexed, then edited and swapped for a link out of the root between the scan and the
    read: its old version leaves the index (as when the scan sees the link), not stale."""
    result = _edit_then_swap_after_the_scan(sample, monkeypatch, "/etc/passwd", None)
    assert _failed(result) == {"routing/frr/glossary.md": "outside the docs root"}
    assert "routing/frr/glossary.md" not in _indexed(db_url)
    assert result["deleted"] == 1 and not result["stale"]


def test_a_file_swapped_for_a_wider_inside_link_after_the_scan_is_not_read(
    sample: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link rule holds at the read too: a helpdesk-visible file, edited and then swapped
    between the scan and the read for a link to a firewall file, is refused (not indexed
    under the helpdesk name) and its old version leaves the index."""
    target = "../../firewall/nftables/nft/chains.md"
    result = _edit_then_swap_after_the_scan(sample, monkeypatch, target, str(POLICY))
    failed = _failed(result)
    assert set(failed) == {"routing/frr/glossary.md"}
    assert "firewall/nftables/nft/chains.md" in failed["routing/frr/glossary.md"]
    assert "routing/frr/glossary.md" not in _indexed(db_url)
    assert result["deleted"] == 1 and not result["stale"]


def test_files_swapped_for_outside_links_after_the_scan_do_not_bypass_the_mass_delete_guard(
    sample: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every indexed file edited, then swapped for a link out of the root between the scan
    and the read: deleting them all would pass the mass-delete share, so they are held (kept
    stale, the run says why) instead of emptying the index."""
    import tasks.ingest as t
    from flows.ingest import ingest

    files = sorted(sample.rglob("*.md"))
    assert ingest(path=str(sample), policy=str(POLICY))["failed"] == []
    before = _indexed(db_url)
    for f in files:
        f.write_text(f.read_text() + "\n\nAn edited paragraph.\n")
    real_make_plan = t.make_plan

    def plan_then_swap(*args: Any, **kwargs: Any) -> Any:
        plan = real_make_plan(*args, **kwargs)
        for f in files:
            f.unlink()
            f.symlink_to("/etc/passwd")
        return plan

    monkeypatch.setattr(t, "make_plan", plan_then_swap)
    result: dict[str, Any] = ingest(path=str(sample), policy=str(POLICY))
    assert set(_failed(result)) == before and result["deleted"] == 0
    assert _indexed(db_url) == before
    assert {s["path"] for s in result["stale"]} == before
    assert any("NETDOCS_MASS_DELETE_RATIO" in m for m in result["messages"]), result["messages"]
