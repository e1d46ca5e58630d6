from netdocs.diff import diff


def test_truth_table() -> None:
    scanned = {
        "new.md": ("c1", "m1"),
        "chg.md": ("c2b", "m2"),
        "same.md": ("c3", "m3"),
        "meta.md": ("c4", "m4b"),
        "both.md": ("c5b", "m5b"),
    }
    stored = {
        "chg.md": ("c2", "m2"),
        "same.md": ("c3", "m3"),
        "meta.md": ("c4", "m4"),
        "both.md": ("c5", "m5"),
        "gone.md": ("c6", "m6"),
        "unreadable.md": ("c7", "m7"),
    }
    cs = diff(scanned, stored, unreadable={"unreadable.md"})
    assert cs.new == ("new.md",)
    assert cs.changed == ("both.md", "chg.md")  # content change wins over a tag change
    assert cs.unchanged == ("same.md",)
    assert cs.metadata_only == ("meta.md",)
    assert cs.deleted == ("gone.md",)  # the unreadable file keeps its indexed version


def test_full_reprocesses_unchanged() -> None:
    cs = diff({"a.md": ("c", "m")}, {"a.md": ("c", "m")}, full=True)
    assert cs.changed == ("a.md",) and cs.unchanged == ()


def test_empty_index_everything_new() -> None:
    cs = diff({"b.md": ("c", "m"), "a.md": ("d", "m")}, {})
    assert cs.new == ("a.md", "b.md") and cs.deleted == ()
