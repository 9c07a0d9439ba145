"""Which characters text from a client may hold. Pure (no web framework), so the engine's
event-data checks and the HTTP input checks (`app.security.inputs`) apply the same rule.

Control characters (Unicode category Cc: C0, DEL and C1) have no place in clinical text: they
do not print, can hide or disguise text in a screen, a log line or an export, and some cannot
be stored at all (NUL). Free text may still hold tab, line feed and carriage return; a name or
a code is one line and may hold none.
"""

from __future__ import annotations

import re

# C0 controls other than tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# ... and those three too.
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# JSON text that may hold a control character once decoded: a `\u` escape, a `\b` or `\f`
# escape (backspace, form feed), a raw DEL, or a raw C1 character (U+0080..U+009F are 0xC2
# 0x80..0x9F in UTF-8). A raw C0 character is not valid JSON at all (the parser refuses it).
# The `\t`, `\n` and `\r` escapes are left out: free text may hold those, and a field that is
# one line refuses them by its own type.
_MAY_HIDE_CONTROL = re.compile(rb"\\[ubf]|\x7f|\xc2[\x80-\x9f]")


def control_character(text: str, *, single_line: bool) -> str | None:
    """The first control character `text` may not hold (free text: none but tab, line feed and
    carriage return; one line: none at all), or None when there is none."""
    found = (_CONTROL_OR_BREAK if single_line else _CONTROL).search(text)
    return found.group() if found else None


def control_message(char: str) -> str:
    return f"may not contain the control character U+{ord(char):04X}"


def may_hide_control(raw: bytes) -> bool:
    """Whether a JSON document's bytes may hold a control character (or a NUL, or a lone
    surrogate) in a string once parsed; when False, it holds none but tab, line feed and
    carriage return."""
    return _MAY_HIDE_CONTROL.search(raw) is not None
