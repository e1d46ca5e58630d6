"""Markdown into sections and blocks, and which blocks must share a chunk (pure; the
packing into chunks is :mod:`netdocs.chunking`, whose ``CHUNKER_VERSION`` covers these
rules too).

A document is split into sections at ATX headings (``#`` .. ``######``, outside fenced
code); a section's body into blocks (paragraphs; a fenced code block is one block).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Linear: the title is taken greedily and its trailing ``#``/spaces stripped in Python
#: (:func:`heading`); a lazy title before ``[ \t#]*$`` was quadratic on long ``#`` runs.
_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

#: A lead line is at most this long (characters) ...
LEAD_MAX_CHARS = 80
#: ... and, unless it is inline code or a bold term, at most this many words.
LEAD_MAX_WORDS = 8
_CODE_LINE = re.compile(r"^`[^`]+`[:.]?$")
_BOLD_LINE = re.compile(r"^(\*\*|__)[^*_]+(\*\*|__):?$")
_NOT_LEAD = re.compile(r"^([-*+]\s|[>|<!\[]|\d+[.)]\s|`{3}|~{3})")  # list, quote, table, ...


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line, else None.

    The title loses every trailing ``#``, space and tab (not only a closing sequence
    preceded by a space, as in CommonMark), as the chunk ids of indexed documents assume.
    """
    m = _HEADING.match(line)
    if m is None:
        return None
    return len(m.group(1)), m.group(2).rstrip(" \t#").strip()


def is_lead(block: str) -> bool:
    """True for a one-line block that names what the next block explains: only inline
    code (a command, an option), only a bold term, or a short line without sentence end."""
    line = block.strip()
    if not line or "\n" in line or len(line) > LEAD_MAX_CHARS or _NOT_LEAD.match(line):
        return False
    if _CODE_LINE.match(line) or _BOLD_LINE.match(line):
        return True
    return len(line.split()) <= LEAD_MAX_WORDS and not line.endswith((".", "!", "?", ";", ","))


def units(blocks: Sequence[str], sizes: Sequence[int], budget: int) -> list[list[int]]:
    """Group block indexes that must share a chunk, within ``budget`` tokens per group.

    A block joins the group before it when that group's last block ends with ``:`` (it
    introduces this one), or is a lead line (:func:`is_lead`) not itself introduced by a
    colon (a run of lead lines joins the paragraph after them), or when this block is a
    definition (starts with ``": "``). Groups never exceed ``budget``: a block that would
    is packed alone, as before these rules.
    """
    groups: list[list[int]] = []
    used = 0
    wants_next = False
    for i, block in enumerate(blocks):
        joins = wants_next or block.startswith(": ")
        if groups and joins and used + sizes[i] <= budget:
            prev = blocks[groups[-1][-1]]
            groups[-1].append(i)
            used += sizes[i]
            introduced = prev.rstrip().endswith(":")
        else:
            groups.append([i])
            used = sizes[i]
            introduced = False
        text = block.rstrip()
        wants_next = text.endswith(":") or (is_lead(text) and not introduced)
    return groups


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
        h = heading(line)
        if h is not None:
            end_section()
            level, title = h
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
