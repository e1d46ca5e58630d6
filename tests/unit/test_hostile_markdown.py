"""Markdown that once made chunking slow or degenerate: the result is asserted."""

import re
from collections.abc import Sequence

import pytest

from netdocs.chunking import _cut_word, chunk_document
from netdocs.markdown_blocks import heading, sections


def words(texts: Sequence[str]) -> list[int]:
    """Words + 2 specials, as the hashing embedder counts."""
    return [len(re.findall(r"\S+", t)) + 2 for t in texts]


@pytest.mark.timeout(60)
def test_huge_heading_lines_are_parsed_in_linear_time() -> None:
    """200,000 characters: the old lazy heading pattern took minutes on these lines."""
    hashes = "#" * 200_000 + "x"
    spaces = "a" + " " * 200_000 + "x"
    doc = f"# {hashes}\n\none\n\n## {spaces}\n\ntwo\n"
    assert sections(doc) == [((hashes,), ["one"]), ((hashes, spaces), ["two"])]


def test_heading_titles_lose_trailing_hashes_and_spaces() -> None:
    assert heading("## Title ##  ") == (2, "Title")
    assert heading("# foo#") == (1, "foo")  # as before (CommonMark keeps it): ids stay
    assert heading("   ### \t") == (3, "")
    assert heading("####### seven") is None
    assert heading("#no-space") is None
    assert heading("    # indented code") is None


def test_a_heading_longer_than_the_chunk_limit_is_shortened_not_the_words() -> None:
    """A 205-word heading once left a negative budget: 1,290 one-letter chunks."""
    title = " ".join(f"w{i}" for i in range(205))
    body = " ".join(f"word{i}" for i in range(200))
    chunks = chunk_document("x.md", f"# {title}\n\n{body}\n", words, 200)
    assert 2 <= len(chunks) <= 4
    assert all(c.token_count <= 200 and len(c.text.split()) >= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == body
    (short,) = {c.heading_path for c in chunks}
    assert len(short) == 1 and short[0].endswith(" w95 w96 …") and title.startswith(short[0][:-2])
    assert words([short[0]])[0] <= 100  # at most half of the chunk


def test_a_long_heading_path_keeps_its_first_titles() -> None:
    long = " ".join(["long"] * 300)
    doc = f"# Guide\n\n## {long}\n\ntext here\n"
    (chunk,) = chunk_document("g.md", doc, words, 60)
    assert chunk.heading_path[0] == "Guide" and chunk.heading_path[1].endswith("long …")
    assert chunk.text == "text here" and chunk.token_count <= 60


def test_a_word_is_not_shredded_when_not_even_one_character_fits() -> None:
    assert _cut_word("abcdef", lambda s: False) == ["abcdef"]
    assert _cut_word("abcdef", lambda s: len(s) <= 2) == ["a", "bc", "d", "ef"]


def test_a_cr_only_file_is_chunked_like_its_lf_version() -> None:
    from netdocs.sources import decode

    lf = "# Title\n\nFirst paragraph.\n\n## Part\n\nSecond paragraph.\n"
    for raw in (lf.replace("\n", "\r"), lf.replace("\n", "\r\n")):
        text = decode("old-mac.md", raw.encode())
        assert chunk_document("d.md", text, words, 50) == chunk_document("d.md", lf, words, 50)
    assert len(chunk_document("d.md", lf, words, 50)) == 2
