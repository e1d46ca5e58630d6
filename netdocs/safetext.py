"""Safe renderings of untrusted strings (file names, headings) for storage and terminals.

* :func:`safe_name` — a file name as Python got it from the OS (undecodable bytes become
  lone surrogates, PEP 383) rendered valid UTF-8: ``b"bad\\xff.md"`` -> ``"bad\\\\xff.md"``.
* :func:`for_terminal` — control characters (ANSI escape sequences, NUL, C1, bidi
  overrides) shown as ``\\xNN`` escapes, so a heading cannot recolour or rewrite the screen.
* :func:`storable` — text PostgreSQL ``text`` accepts (NUL and lone surrogates replaced).
* :func:`visible_text` — a question as a reader sees it: invisible characters (format,
  private-use, unassigned: zero-width, bidi, the U+E0000 tag block) removed, controls spaced.
* :func:`json_safe` — a JSON-able value whose strings PostgreSQL ``jsonb`` accepts (no lone
  surrogates, no NUL).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 except tab/newline, DEL, C1, and the bidirectional overrides/isolates.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TERMINAL_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def storable(text: str) -> str:
    """``text`` as PostgreSQL can take it: NUL and lone surrogates (undecodable argv bytes,
    ``\\ud800`` escapes in JSON) become spaces / U+FFFD instead of failing the statement."""
    return text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")


_INVISIBLE = frozenset({"Cf", "Co", "Cn", "Cs"})


def visible_text(text: str) -> str:
    """``text`` storable (see storable) with what a reader cannot see removed and control
    characters other than newline and tab made spaces. A question is used as this text for
    everything (cache key, search, prompt, audit): hidden characters could otherwise carry
    instructions to the model while the cache key, which drops case and spacing, matched
    the plain question (a planted answer served to colleagues)."""
    out = []
    for ch in storable(text):
        kind = unicodedata.category(ch)
        if kind in _INVISIBLE:
            continue
        out.append(" " if kind == "Cc" and ch not in "\n\t" else ch)
    return "".join(out)


def is_valid_utf8(name: str) -> bool:
    """False when ``name`` carries undecodable bytes (lone surrogates)."""
    return _SURROGATES.search(name) is None


def safe_name(name: str) -> str:
    """``name`` with undecodable bytes written as ``\\xNN`` (valid UTF-8, never raises)."""
    if is_valid_utf8(name):
        return name
    try:  # the OS's undecodable bytes (U+DC80..U+DCFF) back to bytes, then escaped
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates: escape them as code points
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str, *, multiline: bool = False) -> str:
    """``text`` with control characters escaped (``multiline`` keeps newlines and tabs)."""
    pattern = _TERMINAL_UNSAFE if multiline else _TERMINAL_UNSAFE_LINE
    return pattern.sub(_escape, safe_name(text))


def json_safe(value: Any) -> Any:
    """``value`` with every string made storable in ``jsonb`` (surrogates and NUL escaped)."""
    if isinstance(value, str):
        return safe_name(value).replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
