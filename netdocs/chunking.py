"""Heading-aware Markdown chunking with stable, content-addressed chunk ids (pure).

A document is split into sections at ATX headings (``#`` .. ``######``, outside fenced
code). Each section's body is split into blocks (paragraphs; a fenced code block is one
block) which are packed greedily into chunks whose *embedded text* (heading path + text)
stays within ``max_tokens`` of the embedder's own tokenizer. A block too long on its own is
split by lines, then by words. A heading path longer than half of ``max_tokens`` is
shortened (ended by ``…``) in the chunks, so that text always has room beside it.

Blocks that belong together are packed as one unit when they fit together (:func:`units`):
a line that is only a command or option (inline code, a bold term, a short heading-like
line) stays with the paragraph after it that explains it, and a paragraph ending in ``:``
stays with the block it introduces. ``CHUNKER_VERSION`` names these rules: an index built
with other rules is re-chunked by the next ingest (see ``netdocs.ingest.plan``).

``chunk_id = sha256(doc_id, heading path, text, n)`` where n counts earlier identical
(heading, text) pairs in the document, so an edit elsewhere leaves a chunk's id unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from netdocs.markdown_blocks import is_lead, sections, units
from netdocs.sources import split_front_matter
from netdocs.types import Chunk

__all__ = ["CHUNKER_VERSION", "chunk_document", "embed_text", "is_lead", "sections", "units"]

CountTokens = Callable[[Sequence[str]], list[int]]
Path = tuple[str, ...]

#: The chunking rules' version, recorded in the index: change it whenever a change to this
#: module or :mod:`netdocs.markdown_blocks` can move a chunk boundary, so that existing
#: indexes are re-chunked.
CHUNKER_VERSION = "4"  # 3: lone CR line ends, long headings shortened; 4: blobs elided

#: A run of non-space characters longer than this (a base64 blob, a data: URI, a megabyte
#: "word") is kept as its start and a note of its length: word-piece tokenizers count such a
#: word as ONE token, so it would pass the token bound and reach prompts whole.
MAX_WORD_CHARS = 1000  # an RSA-4096 ssh public key (716) stays whole
_BLOB = re.compile(rf"(?<!\S)\S{{{MAX_WORD_CHARS + 1},}}")  # from a word's start: linear


def elide_blobs(text: str) -> str:
    """``text`` with every run of more than MAX_WORD_CHARS non-space characters cut to its
    first 80 and a note of how many were left out."""
    return _BLOB.sub(lambda m: f"{m.group(0)[:80]}[... {len(m.group(0)) - 80} characters]", text)


def embed_text(heading_path: tuple[str, ...], text: str) -> str:
    """The exact string embedded for a chunk: its heading path, a blank line, its text."""
    heading = " > ".join(heading_path)
    return f"{heading}\n\n{text}" if heading else text


def _split_exact(block: str, fits: Callable[[str], bool]) -> list[str]:
    """Split one over-long block by lines, then by words, checking every candidate exactly.

    Quadratic in the block's length (each candidate is re-tokenized); used only when
    additive packing (:func:`_split_additive`) was wrong for a chunk.
    """
    pieces: list[str] = []
    units = block.split("\n") if "\n" in block else block.split(" ")
    sep = "\n" if "\n" in block else " "
    current = ""
    for unit in units:
        candidate = f"{current}{sep}{unit}" if current else unit
        if fits(candidate):
            current = candidate
            continue
        if current:
            pieces.append(current)
        if fits(unit):
            current = unit
        elif sep == "\n":
            sub = _split_exact(unit, fits)
            pieces.extend(sub[:-1])
            current = sub[-1] if sub else ""
        else:  # a single word longer than the limit: cut it by characters
            pieces.extend(_cut_word(unit, fits))
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _split_additive(
    block: str, budget: int, count_tokens: CountTokens, fits: Callable[[str], bool]
) -> list[str]:
    """Split an over-long block by lines, then by words, into pieces of <= ``budget`` tokens.

    Every unit is tokenized once and costs are summed (word-piece tokenizers are additive
    across whitespace); :func:`chunk_document` re-checks the result exactly.
    """
    sep = "\n" if "\n" in block else " "
    units = block.split(sep)
    costs = [n - 2 for n in count_tokens(units)]  # without [CLS] and [SEP]
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit, cost in zip(units, costs, strict=True):
        if not any(current):  # leading empty units are dropped, as in _split_exact
            current, used = [], 0
        if current and used + cost <= budget:
            current.append(unit)
            used += cost
            continue
        if current:
            pieces.append(sep.join(current))
            current, used = [], 0
        if cost <= budget:
            current, used = [unit], cost
        elif sep == "\n":
            sub = _split_additive(unit, budget, count_tokens, fits)
            pieces.extend(sub[:-1])
            current, used = ([sub[-1]], _cost(sub[-1], count_tokens)) if sub else ([], 0)
        else:  # a single word longer than the limit: cut it by characters
            pieces.extend(_cut_word(unit, fits))
    if any(current):
        pieces.append(sep.join(current))
    return pieces


def _cost(text: str, count_tokens: CountTokens) -> int:
    """Tokens of ``text`` without [CLS] and [SEP]."""
    return count_tokens([text])[0] - 2


def _cut_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    """Halve a space-less string until every piece fits; uncut when not even its first
    character fits (no room left beside the heading: cutting would only shred it)."""
    if len(word) > 1 and not fits(word) and fits(word[0]):
        return _halve(word, fits)
    return [word]


def _halve(word: str, fits: Callable[[str], bool]) -> list[str]:
    if fits(word) or len(word) <= 1:
        return [word]
    mid = len(word) // 2
    return _halve(word[:mid], fits) + _halve(word[mid:], fits)


def _short_path(heading_path: Path, count_tokens: CountTokens, limit: int) -> Path:
    """The longest prefix of ``heading_path``'s text, ended by ``…``, costing at most
    ``limit`` tokens as a chunk's heading (cut at a space when it can be)."""

    def cut(k: int) -> Path:
        out: list[str] = []
        for title in heading_path:
            if k <= len(title):
                head = title[:k]
                if title[k : k + 1].strip() and " " in head:  # mid-word: at the last space
                    head = head[: head.rindex(" ")]
                head = head.rstrip()
                return (*out, f"{head} …" if head else "…")
            out.append(title)
            k -= len(title)
        return tuple(out)

    def fits(path: Path) -> bool:
        return count_tokens([embed_text(path, "")])[0] <= limit

    lo, hi = 0, sum(len(t) for t in heading_path) - 1
    while lo < hi:  # the largest k whose cut fits (k = 0 is taken even when it does not)
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(cut(mid)) else (lo, mid - 1)
    return cut(lo)


def _cap_headings(
    secs: list[tuple[Path, list[str]]], counts: list[int], count_tokens: CountTokens, limit: int
) -> tuple[list[tuple[Path, list[str]]], list[int]]:
    """Sections whose heading path costs more than ``limit`` tokens get a shortened one
    (:func:`_short_path`), their blocks re-tokenized; other sections are unchanged."""
    out: list[tuple[Path, list[str]]] = []
    out_counts: list[int] = []
    at = 0
    for heading_path, blocks in secs:
        sec_counts = counts[at : at + 1 + len(blocks)]
        at += 1 + len(blocks)
        if sec_counts[0] > limit:
            heading_path = _short_path(heading_path, count_tokens, limit)
            texts = [embed_text(heading_path, b) for b in ("", *blocks)]
            sec_counts = count_tokens(texts)
        out.append((heading_path, blocks))
        out_counts.extend(sec_counts)
    return out, out_counts


def chunk_document(
    doc_id: str, text: str, count_tokens: CountTokens, max_tokens: int
) -> list[Chunk]:
    """Chunk one Markdown document; every chunk's embed_text fits in ``max_tokens``.

    Packing assumes token counts add up across blocks joined by blank lines (true for
    word-piece tokenizers); a final check re-splits any chunk for which they did not.
    All blocks of the document are tokenized in one call.
    """
    _, body = split_front_matter(text)
    secs = sections(elide_blobs(body))
    flat: list[str] = []
    for heading_path, blocks in secs:
        flat.append(embed_text(heading_path, ""))
        flat.extend(embed_text(heading_path, b) for b in blocks)
    all_counts = count_tokens(flat) if flat else []
    # A heading path may use at most half of a chunk: more would leave (almost) no room
    # for text, and every word would be cut into characters.
    secs, all_counts = _cap_headings(secs, all_counts, count_tokens, max_tokens // 2)
    raw: list[tuple[tuple[str, ...], str]] = []
    at = 0
    for heading_path, blocks in secs:
        counts = all_counts[at : at + 1 + len(blocks)]
        at += 1 + len(blocks)
        base, sizes = counts[0], [n - counts[0] for n in counts[1:]]
        groups = units(blocks, sizes, max_tokens - base)
        packed = ["\n\n".join(blocks[i] for i in g) for g in groups]
        costs = [sum(sizes[i] for i in g) for g in groups]
        current: list[str] = []
        used = 0
        for block, cost in zip(packed, costs, strict=True):
            if current and base + used + cost <= max_tokens:
                current.append(block)
                used += cost
                continue
            if current:
                raw.append((heading_path, "\n\n".join(current)))
                current, used = [], 0
            if base + cost <= max_tokens:
                current, used = [block], cost
            else:
                fits = _fits(heading_path, count_tokens, max_tokens)
                pieces = _split_additive(block, max_tokens - base, count_tokens, fits)
                raw.extend((heading_path, p) for p in pieces)
        if current:
            raw.append((heading_path, "\n\n".join(current)))
    counts = count_tokens([embed_text(hp, t) for hp, t in raw]) if raw else []
    if all(n <= max_tokens for n in counts):
        return _finalise(doc_id, raw, counts)
    checked: list[tuple[tuple[str, ...], str]] = []
    for (hp, t), n in zip(raw, counts, strict=True):
        if n <= max_tokens:
            checked.append((hp, t))
        else:  # the tokenizer was not additive here: split this chunk exactly
            checked.extend((hp, p) for p in _split_exact(t, _fits(hp, count_tokens, max_tokens)))
    return _finalise(doc_id, checked, count_tokens([embed_text(hp, t) for hp, t in checked]))


def _fits(
    heading_path: tuple[str, ...], count_tokens: CountTokens, max_tokens: int
) -> Callable[[str], bool]:
    def fits(candidate: str) -> bool:
        return count_tokens([embed_text(heading_path, candidate)])[0] <= max_tokens

    return fits


def _finalise(
    doc_id: str, raw: list[tuple[tuple[str, ...], str]], counts: list[int]
) -> list[Chunk]:
    texts = [embed_text(hp, t) for hp, t in raw]
    seen: dict[tuple[tuple[str, ...], str], int] = {}
    chunks = []
    for ordinal, ((hp, text), etext, n) in enumerate(zip(raw, texts, counts, strict=True)):
        occurrence = seen.get((hp, text), 0)
        seen[(hp, text)] = occurrence + 1
        key = "\x00".join([doc_id, "\x1f".join(hp), text, str(occurrence)])
        chunks.append(
            Chunk(
                chunk_id=hashlib.sha256(key.encode()).hexdigest()[:32],
                doc_id=doc_id,
                ordinal=ordinal,
                heading_path=hp,
                text=text,
                embed_text=etext,
                text_hash=hashlib.sha256(etext.encode()).hexdigest(),
                token_count=n,
            )
        )
    return chunks
