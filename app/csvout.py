"""The one CSV writer of the service: every CSV it sends (the RFD list, the national returns)
is written here, so no cell can carry a spreadsheet formula.

A manager opens these files in a spreadsheet. A text cell from a client (a ward, an escalation
reason, a responsible person) that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return, which some spreadsheets skip before such a character) would run as a formula there:
`=HYPERLINK(...)` sends data off, `+cmd|...` starts a program. OWASP's rule: such a text cell
gets a single quote in front, which the spreadsheet shows as text. Numbers are written as they
are (`-3` from an int stays `-3`): only text cells are touched, so a count or a signed figure
keeps its value; a caller must pass numbers as numbers, not as text.

An architecture test holds every other module to this writer (no `csv.writer` elsewhere).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, text that could start a formula quoted, else as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text (RFC 4180 line ends) of a header row and data rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()
