"""Durations such as ``24h``, ``7d``, ``30m``, ``90s`` or a plain number of seconds (pure)."""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str | float | int, what: str = "duration") -> float:
    """Seconds in ``text``; ValueError naming ``what`` when it is not a duration."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{what}: must not be negative, got {text}")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{what}: expected a duration like 24h, 7d, 30m or 90s, got {text!r}")
    return float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
