"""Markdown that once made chunking slow or degenerate: the result is asserted."""

import pytest

from netdocs.markdown_blocks import heading, sections


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
