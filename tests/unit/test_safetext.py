"""Safe renderings of untrusted names and headings (pure)."""

from __future__ import annotations

import json
import os

from netdocs.safetext import for_terminal, is_valid_utf8, json_safe, safe_name


def test_undecodable_file_names_become_escaped_utf8() -> None:
    name = os.fsdecode(b"dir/bad\xff\xfe.md")
    assert not is_valid_utf8(name)
    assert safe_name(name) == "dir/bad\\xff\\xfe.md"
    assert safe_name("x\ud800y") == "x\\ud800y"  # a lone surrogate not from the OS
    assert safe_name("plain/é.md") == "plain/é.md"


def test_terminal_rendering_escapes_control_characters() -> None:
    assert for_terminal("Peering \x1b[31min red\x07") == "Peering \\x1b[31min red\\x07"
    assert for_terminal("a\nb\tc") == "a\\x0ab\\x09c"
    assert for_terminal("a\nb\tc\x9b", multiline=True) == "a\nb\tc\\x9b"
    assert for_terminal("abc\u202edcba") == "abc\\u202edcba"  # bidi override
    assert for_terminal("routing/bgp — ok") == "routing/bgp — ok"


def test_json_safe_values_fit_jsonb() -> None:
    value = {"failed": [{"path": os.fsdecode(b"bad\xff.md"), "error": "NUL \x00 here"}], "n": 3}
    safe = json_safe(value)
    assert safe == {"failed": [{"path": "bad\\xff.md", "error": "NUL \\x00 here"}], "n": 3}
    text = json.dumps(safe)
    assert "\\u0000" not in text and "\\udc" not in text


def test_visible_text_drops_what_a_reader_cannot_see_and_keeps_the_rest() -> None:
    from netdocs.safetext import visible_text

    kept = "Café BGP 路由 ✓ line one\n\tline two"
    hidden = "\u200b\u200d\u202e\u2066\ufeff\ue000" + "".join(chr(0xE0000 + ord(c)) for c in "run")
    assert visible_text(kept[:5] + hidden + kept[5:]) == kept
    assert visible_text("a\x07b\x00c") == "a b c"
