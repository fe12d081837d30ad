"""Text from inputs, programs or packs made safe to print: no raw control characters, bounded length."""

from __future__ import annotations

import re

__all__ = ["escape_controls", "shorten"]

# C0/C1 controls (ESC starts ANSI and OSC sequences: colours, titles, hyperlinks), DEL, and the
# Unicode line separators and bidi controls that move or hide text on a terminal.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` / ``\\uNNNN`` escapes (newlines and tabs kept)."""
    return _CONTROLS.sub(_escape_one, text)


def shorten(text: str, limit: int) -> str:
    """At most about ``limit`` characters: the start, then how long the whole was."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 30)] + f"... ({len(text)} characters)"
