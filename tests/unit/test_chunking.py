import re
from collections.abc import Sequence

from netdocs.chunking import chunk_document, sections


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
    assert sum(len(c.text) for c in chunks if c.text.startswith("x")) == 5000


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
