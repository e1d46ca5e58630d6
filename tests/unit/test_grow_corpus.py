"""The scale benchmark's corpus generator: deterministic, unique paths, real text."""

from __future__ import annotations

from pathlib import Path

from benchmarks.grow_corpus import grow
from netdocs.sources import split_front_matter
from tests.conftest import REPO

SAMPLE = REPO / "examples" / "sample-docs"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_same_files_and_every_path_unique(tmp_path: Path) -> None:
    originals = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.md"))
    first = grow(SAMPLE, tmp_path / "a", 200, seed=7)
    second = grow(SAMPLE, tmp_path / "b", 200, seed=7)
    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert len(set(first)) == len(first) == 200 - len(originals)
    assert not set(first) & set(originals)
    assert sum(1 for _ in (tmp_path / "a").rglob("*.md")) == 200
    grow(SAMPLE, tmp_path / "c", 200, seed=8)
    assert _files(tmp_path / "c") != _files(tmp_path / "a")


def test_generated_pages_reuse_real_sections(tmp_path: Path) -> None:
    new = grow(SAMPLE, tmp_path / "g", 120, seed=3, variant_share=0.5)
    variants = [p for p in new if "/sites/" in p]
    notes = [p for p in new if "/notes/" in p]
    assert variants and notes and len(variants) + len(notes) == len(new)
    rel = variants[0]
    original = SAMPLE / rel.replace(f"/sites/{rel.split('/sites/')[1].split('/')[0]}", "")
    text = (tmp_path / "g" / rel).read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: ")
    body = original.read_text(encoding="utf-8")
    paragraphs = [p for p in body.split("\n\n") if len(p) > 80]
    assert paragraphs and all(p in text for p in paragraphs)  # the original text, kept
    assert text.count(" the on-call rotation is netops-") == 1  # plus one site sentence
    note = (tmp_path / "g" / notes[0]).read_text(encoding="utf-8")
    sections = note.split("\n### ")[1:]
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in SAMPLE.rglob("*.md"))
    assert sections and all(("## " + s.strip()[:60]) in corpus for s in sections)


def test_front_matter_is_valid_yaml_whatever_the_title(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lb" / "haproxy").mkdir(parents=True)
    body = "\n\n".join(["para " * 30, "## Usage", "more words " * 20, "## Notes", "x " * 40])
    for i, title in enumerate([r"bind \[ \<address\> \] : \<port\>", 'say "hi"', "a: b"]):
        (src / "lb" / "haproxy" / f"p{i}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    new = grow(src, tmp_path / "out", 30, seed=1)
    for rel in new:
        meta, _ = split_front_matter((tmp_path / "out" / rel).read_text(encoding="utf-8"))
        assert isinstance(meta.get("title"), str) and meta["title"]
