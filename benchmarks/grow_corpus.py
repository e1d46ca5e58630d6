"""Grow a Markdown corpus to N documents from its own sections (deterministic, seeded).

    python benchmarks/grow_corpus.py SRC OUT --docs 5000 [--seed 14] [--variant-share 0.85]

OUT gets a copy of SRC (every file, tags.yaml included) plus generated documents of two
kinds, as a network team's documentation grows:

* **site variants** (``--variant-share`` of them): a real page copied for one site, at
  ``<its folder>/sites/<site>/<its name>``, with front matter (title, site, owner, review
  date) and one prose paragraph extended by a site-specific sentence (hosts, change window,
  on-call). Most of its text is shared with the original: realistic overlap, and the
  embedding cache answers the unchanged chunks.
* **recombined notes**: a new page under ``<project>/notes/`` whose title names two or three
  real pages of one project and whose body is two or three of their ``##`` sections.

Same source, N and seed give byte-identical files; every path is unique. No lorem ipsum:
every sentence comes from the corpus or from the small site templates below.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

CITIES = [
    "fra",
    "ams",
    "lon",
    "par",
    "mad",
    "mil",
    "waw",
    "hel",
    "sto",
    "osl",
    "dub",
    "zrh",
    "vie",
    "prg",
    "bud",
    "nyc",
    "iad",
    "ord",
    "dfw",
    "sfo",
    "sea",
    "yyz",
    "gru",
    "scl",
    "mex",
    "jnb",
    "nbo",
    "bom",
    "del",
    "sin",
    "hkg",
    "tok",
    "osa",
    "syd",
    "mel",
    "akl",
]
DEVICES = ("border router", "core switch", "firewall", "load balancer", "DNS resolver", "NTP")
WINDOWS = ("Tuesday 02:00-04:00 UTC", "Wednesday 22:00-23:30 local", "Sunday 01:00-05:00 UTC")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Page:
    """A source page: its path, title, text and its ``##`` sections (heading line + body)."""

    path: str
    title: str
    text: str
    sections: tuple[str, ...]


def parse(path: str, text: str) -> Page:
    """Split a page at ``##`` headings outside code fences; the title is its first ``#``."""
    title = ""
    sections: list[list[str]] = []
    fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fence = not fence
        if not fence and not title and line.startswith("# "):
            title = line[2:].strip()
            continue
        if not fence and line.startswith("## "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    title = title or Path(path).stem.replace("-", " ")
    return Page(path, title, text, tuple("\n".join(s).strip() for s in sections if len(s) > 2))


def sites(n: int) -> list[str]:
    """``n`` distinct site codes: fra1, ams1, ..., fra2, ..."""
    return [f"{CITIES[i % len(CITIES)]}{i // len(CITIES) + 1}" for i in range(n)]


def _front_matter(title: str, rng: random.Random, site: str | None) -> str:
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}"]  # JSON is valid YAML
    if site:
        lines.append(f"site: {site}")
    lines.append(f"owner: netops-{rng.choice(('emea', 'amer', 'apac'))}")
    lines.append(f"last_reviewed: 2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}")
    return "\n".join([*lines, "---", ""])


def _prose(text: str) -> list[str]:
    return [
        p
        for p in text.split("\n\n")
        if len(p.split()) > 20 and not p.lstrip().startswith(("#", "`", "|", "-", "*", ">", "~"))
    ]


def variant(page: Page, site: str, rng: random.Random) -> str:
    """``page`` as copied for ``site``: front matter plus one site-specific sentence."""
    code = site.upper()
    note = (
        f" At {code} the {rng.choice(DEVICES)} pair is {site}-{rng.choice(('r', 'sw', 'fw'))}"
        f"{rng.randint(1, 9)}a/b; changes go in the {rng.choice(WINDOWS)} window and the "
        f"on-call rotation is netops-{site}."
    )
    text = page.text
    paras = _prose(text)
    if paras:
        para = rng.choice(paras)
        text = text.replace(para, para + note, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + note.strip() + "\n"
    return _front_matter(f"{page.title} ({code})", rng, site) + text


def recombined(pages: list[Page], rng: random.Random) -> str:
    """A notes page: two or three real pages' sections under a title naming them."""
    title = "Notes: " + "; ".join(p.title for p in pages)
    body = [f"# {title}", ""]
    for page in pages:
        picks = rng.sample(page.sections, min(len(page.sections), rng.randint(1, 2)))
        body += [f"## From {page.title}", "", *("#" + s for s in picks), ""]
    return _front_matter(title, rng, None) + "\n".join(body)


def grow(src: Path, out: Path, docs: int, seed: int = 14, variant_share: float = 0.85) -> list[str]:
    """Copy ``src`` to ``out`` and add documents up to ``docs`` in all; returns the new paths."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    paths = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.md"))
    pages = [parse(p, (src / p).read_text(encoding="utf-8", errors="replace")) for p in paths]
    rng = random.Random(seed)
    extra = max(0, docs - len(pages))
    by_project: dict[str, list[Page]] = {}
    for page in pages:
        if page.sections:
            by_project.setdefault("/".join(page.path.split("/")[:2]), []).append(page)
    projects = sorted(k for k, v in by_project.items() if len(v) >= 3)
    n_variants = round(extra * variant_share) if projects else extra  # notes need projects
    order = list(range(len(pages)))
    rng.shuffle(order)
    site_codes = sites(n_variants // max(1, len(pages)) + 1)
    written: list[str] = []
    for i in range(n_variants):  # (page, site) pairs are distinct, so paths are unique
        page = pages[order[i % len(pages)]]
        site = site_codes[i // len(pages)]
        rel = Path(page.path)
        target = (rel.parent / "sites" / site / rel.name).as_posix()
        written.append(_write(out, target, variant(page, site, rng)))
    for k in range(extra - n_variants):
        project = rng.choice(projects)
        chosen = rng.sample(by_project[project], rng.randint(2, 3))
        slug = re.sub(r"[^a-z0-9]+", "-", chosen[0].title.lower()).strip("-")[:40]
        written.append(_write(out, f"{project}/notes/{slug}-{k:05d}.md", recombined(chosen, rng)))
    return written


def _write(root: Path, rel: str, text: str) -> str:
    path = root / rel
    if path.exists():
        raise FileExistsError(f"generated path collides: {rel}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return rel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, required=True)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--variant-share", type=float, default=0.85)
    args = parser.parse_args()
    new = grow(args.src, args.out, args.docs, args.seed, args.variant_share)
    total = sum(1 for _ in args.out.rglob("*.md"))
    print(f"{args.out}: {total} documents ({len(new)} generated, seed {args.seed})")


if __name__ == "__main__":
    main()
