import re
from collections.abc import Sequence

from netdocs.chunking import chunk_document, is_lead, sections
from netdocs.types import Chunk
from tests.conftest import REPO


def words(texts: Sequence[str]) -> list[int]:
    """A stand-in tokenizer: words + 2 specials (the real one is tested with the model)."""
    return [len(re.findall(r"\S+", t)) + 2 for t in texts]


DOC = """---
tags: [configs]
---
# BGP

Intro paragraph about BGP.

## Neighbors

Configure a neighbor with `neighbor X remote-as Y`.

```
router bgp 65000
 # not a heading inside code

 neighbor 192.0.2.1 remote-as 65001
```

## Timers

Keepalive and hold timers.
"""


def test_sections_follow_headings_not_code() -> None:
    secs = sections(DOC.split("---\n", 2)[2])
    assert [s[0] for s in secs] == [("BGP",), ("BGP", "Neighbors"), ("BGP", "Timers")]
    code = secs[1][1][1]
    assert code.startswith("```") and "# not a heading" in code and "neighbor 192.0.2.1" in code


def test_chunks_carry_heading_path_and_fit() -> None:
    chunks = chunk_document("r/bgp.md", DOC, words, 60)
    assert all(c.token_count <= 60 for c in chunks)
    assert chunks[0].heading == "BGP"
    assert chunks[0].embed_text.startswith("BGP\n\n")
    assert "tags:" not in " ".join(c.text for c in chunks)  # front matter is not content
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def _long_doc(n_sections: int = 6, paras: int = 8) -> str:
    parts = ["# Guide"]
    for s in range(n_sections):
        parts.append(f"## Section {s}")
        for p in range(paras):
            parts.append(" ".join(f"s{s}p{p}w{w}" for w in range(25)))
    return "\n\n".join(parts)


def test_every_chunk_within_limit_and_text_preserved() -> None:
    doc = _long_doc()
    chunks = chunk_document("g.md", doc, words, 80)
    assert all(c.token_count <= 80 for c in chunks)
    joined = " ".join(c.text for c in chunks).split()
    original = [
        w
        for w in doc.split()
        if w not in ("#", "##") and not w.startswith(("Guide", "Section")) and not w.isdigit()
    ]
    assert joined == original  # nothing lost, nothing duplicated, order kept


def test_edit_one_paragraph_changes_only_its_chunk() -> None:
    doc = _long_doc()
    before = {c.chunk_id for c in chunk_document("g.md", doc, words, 80)}
    edited = doc.replace("s3p4w10", "s3p4w10-edited")  # same length in words
    after = {c.chunk_id for c in chunk_document("g.md", edited, words, 80)}
    assert len(after - before) == 1 and len(before - after) == 1


def test_ids_stable_when_other_sections_change() -> None:
    doc = _long_doc()
    before = chunk_document("g.md", doc, words, 80)
    grown = doc.replace("## Section 0", "## Section 0\n\nA brand new paragraph at the top.")
    after = chunk_document("g.md", grown, words, 80)
    untouched = {c.chunk_id for c in before if not c.heading.endswith("Section 0")}
    assert untouched <= {c.chunk_id for c in after}


def test_identical_sections_get_distinct_ids() -> None:
    doc = "# A\n\nsame text\n\n# A\n\nsame text\n"
    ids = [c.chunk_id for c in chunk_document("d.md", doc, words, 50)]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_ids_depend_on_document() -> None:
    a = chunk_document("a.md", "# T\n\ntext", words, 50)[0]
    b = chunk_document("b.md", "# T\n\ntext", words, 50)[0]
    assert a.chunk_id != b.chunk_id and a.text_hash == b.text_hash  # cache key is shared


def test_giant_line_and_word_are_split() -> None:
    doc = "# T\n\n" + " ".join(["word"] * 500) + "\n\n" + "x" * 5000
    chunks = chunk_document("big.md", doc, words, 64)
    assert all(c.token_count <= 64 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) == 500
    # a 5,000-character "word" is a blob: kept as its first 80 and a note of the rest
    assert [c.text for c in chunks if c.text.startswith("x")] == [
        "x" * 80 + "[... 4920 characters]"
    ]


def test_headings_only_gives_no_chunks() -> None:
    assert chunk_document("h.md", "# A\n\n## B\n", words, 50) == []


def test_wide_table_rule_is_cut_until_it_fits() -> None:
    """A 1,000-character table rule is one 'word' of hundreds of tokens."""

    def per_char(texts: Sequence[str]) -> list[int]:
        return [len(t.replace(" ", "").replace("\n", "")) + 2 for t in texts]

    rule = "|" + "|".join(["-" * 30] * 30) + "|"
    chunks = chunk_document("t.md", f"# T\n\n{rule}\n", per_char, 100)
    assert all(c.token_count <= 100 for c in chunks)
    assert "".join(c.text for c in chunks) == rule


# --- chunk boundaries that keep meaning together (issue 17) ---------------------------------

EXPLAINED = " ".join(f"w{i}" for i in range(20)) + "."  # a 20-word explanation


def _chunk_with(chunks: Sequence[Chunk], needle: str) -> Chunk:
    return next(c for c in chunks if needle in c.text)


def test_command_line_stays_with_its_explanation() -> None:
    """The sample's case: a paragraph fills most of a chunk, then `cmd` + its explanation."""
    filler = " ".join(f"f{i}" for i in range(30)) + "."
    doc = f"# T\n\n{filler}\n\n`bgp allow-martian-nexthop`\n\n{EXPLAINED}\n"
    # 1 heading word: filler 31 + cmd 2 fit in 36, the explanation does not.
    chunks = chunk_document("t.md", doc, words, 36 + 2)
    assert "w19." in _chunk_with(chunks, "`bgp allow-martian-nexthop`").text
    assert "`bgp" not in _chunk_with(chunks, "f29.").text


def _words(prefix: str, n: int, end: str = ".") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n)) + end


INTRO = _words("i", 12, " is configured with:")  # 16 words
CMD = "`neighbor PEER route-reflector-client`"  # 3 words


def test_intro_ending_in_colon_keeps_the_command_it_introduces() -> None:
    # Budget 40 words: heading 1 + filler 22 + intro 16 fit, + the command does not.
    doc = f"# T\n\n{_words('f', 22)}\n\n{INTRO}\n\n{CMD}\n\n{_words('o', 20)}\n"
    chunks = chunk_document("t.md", doc, words, 40 + 2)
    assert CMD in _chunk_with(chunks, "with:").text


def test_command_introduced_by_a_colon_does_not_also_join_the_next_paragraph() -> None:
    # heading 1 + filler 10 + intro 16 + command 3 fit in 40; + the next 20 words do not.
    doc = f"# T\n\n{_words('f', 10)}\n\n{INTRO}\n\n{CMD}\n\n{_words('o', 20)}\n"
    chunks = chunk_document("t.md", doc, words, 40 + 2)
    first = _chunk_with(chunks, "f9.").text
    assert "with:" in first and CMD in first and "o19." not in first


def test_run_of_commands_joins_the_next_paragraph() -> None:
    doc = f"# T\n\n{EXPLAINED}\n\n`a x`\n\n`b y`\n\n{EXPLAINED.upper()}\n"
    chunks = chunk_document("t.md", doc, words, 26 + 2)
    assert _chunk_with(chunks, "`a x`").text.startswith("`a x`\n\n`b y`\n\nW0")


def test_definition_list_term_stays_with_its_definition() -> None:
    term = "Maximum number of prefixes accepted from one neighbor per session"  # 10 words
    doc = f"# T\n\n{EXPLAINED}\n\n{term}\n\n: {EXPLAINED}\n"
    chunks = chunk_document("t.md", doc, words, 40 + 2)  # 1 + 20 + 10 fit, + 21 do not
    assert _chunk_with(chunks, "Maximum").text.startswith(f"{term}\n\n: w0")


def test_is_lead() -> None:
    assert is_lead("`bgp cluster-id A.B.C.D`") and is_lead("**--no-kernel**") and is_lead("Timers")
    assert is_lead("`ip prefix-list NAME seq 5 permit 10.0.0.0/8 le 24 ge 16`")  # 10 words
    assert not is_lead("A full sentence ends here.") and not is_lead("- a list item")
    assert not is_lead("```\ncode\n```") and not is_lead("`a`\n`b`") and not is_lead("| a | b |")


def test_glued_group_too_big_falls_back_to_plain_packing() -> None:
    doc = f"# T\n\n`cmd`\n\n{EXPLAINED}\n"
    chunks = chunk_document("t.md", doc, words, 1 + 20 + 2)  # heading + explanation only
    assert [c.text for c in chunks] == ["`cmd`", EXPLAINED]


def test_sample_route_reflector_keeps_martian_nexthop_with_its_explanation() -> None:
    path = REPO / "examples/sample-docs/routing/frr/bgp/route-reflector.md"
    chunks = chunk_document("rr.md", path.read_text(encoding="utf-8"), words, 200)
    for limit in (60, 90, 120, 200):  # whatever the budget, never split
        chunks = chunk_document("rr.md", path.read_text(encoding="utf-8"), words, limit)
        assert (
            "martian nexthop as part of the NLRI"
            in _chunk_with(chunks, "`bgp allow-martian-nexthop`").text
        )
