"""Heading-aware Markdown chunking with stable, content-addressed chunk ids (pure).

A document is split into sections at ATX headings (``#`` .. ``######``, outside fenced
code). Each section's body is split into blocks (paragraphs; a fenced code block is one
block) which are packed greedily into chunks whose *embedded text* (heading path + text)
stays within ``max_tokens`` of the embedder's own tokenizer. A block too long on its own is
split by lines, then by words.

``chunk_id = sha256(doc_id, heading path, text, n)`` where n counts earlier identical
(heading, text) pairs in the document, so an edit elsewhere leaves a chunk's id unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from netdocs.sources import split_front_matter
from netdocs.types import Chunk

CountTokens = Callable[[Sequence[str]], list[int]]

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def sections(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Split Markdown into (heading path, body blocks) in document order."""
    out: list[tuple[tuple[str, ...], list[str]]] = []
    path: list[tuple[int, str]] = []
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None

    def end_block() -> None:
        if current and "".join(current).strip():
            blocks.append("\n".join(current).strip("\n"))
        current.clear()

    def end_section() -> None:
        end_block()
        if blocks:
            out.append((tuple(h for _, h in path), list(blocks)))
        blocks.clear()

    for line in text.split("\n"):
        if fence is not None:
            current.append(line)
            if line.strip().startswith(fence):
                fence = None
                end_block()
            continue
        m_fence = _FENCE.match(line)
        if m_fence:
            end_block()
            fence = m_fence.group(1)[0] * 3
            current.append(line)
            continue
        m = _HEADING.match(line)
        if m:
            end_section()
            level, title = len(m.group(1)), m.group(2).strip()
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, title))
            continue
        if not line.strip():
            end_block()
        else:
            current.append(line)
    end_section()
    return out


def embed_text(heading_path: tuple[str, ...], text: str) -> str:
    """The exact string embedded for a chunk: its heading path, a blank line, its text."""
    heading = " > ".join(heading_path)
    return f"{heading}\n\n{text}" if heading else text


def _split_long(block: str, fits: Callable[[str], bool]) -> list[str]:
    """Split one over-long block by lines, then by words, into pieces that fit."""
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
            sub = _split_long(unit, fits)
            pieces.extend(sub[:-1])
            current = sub[-1] if sub else ""
        else:  # a single word longer than the limit: cut it by characters
            step = max(1, len(unit) // 4)
            pieces.extend(unit[i : i + step] for i in range(0, len(unit), step))
            current = ""
    if current:
        pieces.append(current)
    return pieces


def chunk_document(
    doc_id: str, text: str, count_tokens: CountTokens, max_tokens: int
) -> list[Chunk]:
    """Chunk one Markdown document; every chunk's embed_text fits in ``max_tokens``."""
    _, body = split_front_matter(text)
    raw: list[tuple[tuple[str, ...], str]] = []
    for heading_path, blocks in sections(body):

        def fits(candidate: str, hp: tuple[str, ...] = heading_path) -> bool:
            return count_tokens([embed_text(hp, candidate)])[0] <= max_tokens

        sizes = count_tokens([embed_text(heading_path, b) for b in blocks])
        head_cost = count_tokens([embed_text(heading_path, "")])[0] if heading_path else 0
        current: list[str] = []
        used = 0
        for block, size in zip(blocks, sizes, strict=True):
            cost = size - head_cost  # the block's own tokens (approximately additive)
            if (
                current
                and used + cost <= max_tokens - head_cost
                and fits("\n\n".join([*current, block]))
            ):
                current.append(block)
                used += cost
                continue
            if current:
                raw.append((heading_path, "\n\n".join(current)))
                current, used = [], 0
            if size <= max_tokens:
                current, used = [block], cost
            else:
                raw.extend((heading_path, piece) for piece in _split_long(block, fits))
        if current:
            raw.append((heading_path, "\n\n".join(current)))
    return _finalise(doc_id, raw, count_tokens)


def _finalise(
    doc_id: str, raw: list[tuple[tuple[str, ...], str]], count_tokens: CountTokens
) -> list[Chunk]:
    texts = [embed_text(hp, t) for hp, t in raw]
    counts = count_tokens(texts) if texts else []
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
