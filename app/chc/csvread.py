"""Reading one organisation's backlog list: decode, map headings, validate every row.

Pure: bytes in, typed rows and problems out (docs/domain.md §7.10, §12.2 idea 8 "data-quality
firewall"), read as a stream so that memory does not grow with the file. UTF-8, UTF-8 with a
byte-order mark and Windows-1252 are detected (or the encoding is declared); text that is not
valid in it is refused, never guessed at. Dates are day first. Each row is either clean (its
values normalised) or carries every reason it is refused; nothing is dropped here. Row numbers
are spreadsheet row numbers (the heading is row 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.chc.config import SourceConfig

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
DATE_FIELDS = ("date_of_birth", "referral_date", "discharge_date", "package_end_date")
FLAG_FIELDS = ("interim_nhs_funded", "fast_track", "safeguarding_concern")
TEXT_LIMITS = {"source_record_id": 100, "person_name": 200}
ADULT_AGE = 18
MIN_YEAR = 1900
WINDOWS_1252 = "cp1252"
CHUNK_BYTES = 64 * 1024
# A line longer than this is not a row of a list (and is not held in memory to find out).
MAX_LINE_BYTES = 1024 * 1024
# The delimiter is sniffed from the start of the file, as far as this many characters.
SNIFF_CHARS = 4096


class ListFileError(ValueError):
    """The file as a whole cannot be read; nothing from it is imported."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.extra = extra


@dataclass
class ParsedRow:
    row_number: int
    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def source_record_id(self) -> str | None:
        value = self.values.get("source_record_id")
        return str(value) if value else None

    @property
    def match_key(self) -> str | None:
        """Name, date of birth and postcode, normalised: the second matching rule (§7.10)."""
        name, dob, pc = (self.values.get(k) for k in ("person_name", "date_of_birth", "postcode"))
        if not (name and dob and pc):
            return None
        return f"{' '.join(str(name).lower().split())}|{dob}|{str(pc).replace(' ', '')}"


@dataclass
class ParsedFile:
    encoding: str
    columns: dict[str, str]  # canonical field -> heading used
    ignored_columns: list[str]
    rows: list[ParsedRow]
    blank_rows: list[int]


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Text and the encoding it was read with (the whole file in memory: tests and tools;
    the import itself reads a stream, `ListReader`)."""
    encoding = detect_encoding(_chunks(data), declared)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ListFileError(_not_valid(encoding, exc)) from None
    if encoding == WINDOWS_1252 and declared is None:
        for number, line in enumerate(text.splitlines(), start=1):
            _check_windows_1252(line, number, "line")
    return text, encoding


def detect_encoding(chunks: Iterable[bytes], declared: str | None = None) -> str:
    """The encoding to read the file with, from a declaration or from the bytes.

    Declared: that codec (an ASCII-based text encoding Python knows); the bytes are checked
    against it when the file is read. Otherwise: a UTF-16 byte-order mark is refused, a UTF-8
    one means UTF-8; bytes that are all valid UTF-8 are UTF-8; anything else is read as
    Windows-1252, and `ListReader` refuses it if it is not valid Windows-1252 or does not read
    as Western text (`_check_windows_1252`).
    """
    it = iter(chunks)
    first = next(it, b"")
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ListFileError("the file is UTF-16; save it as CSV (UTF-8 or Windows-1252)")
    if declared is not None:
        name = _declared_codec(declared)
        if name == "utf-8" and first.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        return name
    if first.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(first)
        for chunk in it:
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return WINDOWS_1252
    return "utf-8"


def _declared_codec(declared: str) -> str:
    try:
        info = codecs.lookup(declared.strip())
    except (LookupError, ValueError):
        raise ListFileError(
            f"the declared encoding {declared[:40]!r} is not one this service knows; declare "
            "utf-8 or windows-1252 (or leave it out)",
            declared_encoding=declared[:40],
        ) from None
    # An ASCII-based text encoding writes the CSV's own characters as ASCII does (a codec that
    # is not a text encoding, base64 or rot13, cannot encode text at all: LookupError).
    probe = "ID,Name\r\n"
    try:
        ascii_based = probe.encode(info.name) == probe.encode("ascii")
    except (UnicodeError, LookupError, TypeError):
        ascii_based = False
    if not ascii_based:
        raise ListFileError(
            f"the declared encoding {info.name} cannot be read as CSV; save the file as UTF-8",
            declared_encoding=info.name,
        )
    return info.name


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, max(len(data), 1), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


def _not_valid(encoding: str, exc: UnicodeDecodeError, where: str = "") -> str:
    byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return (
        f"the file is not valid {_LABELS.get(encoding, encoding)}{where} (byte 0x{byte}); "
        "save it as UTF-8, or declare the encoding it was saved in"
    )


# What Windows-1252 text in a list of names, places, dates and yes/no looks like, so that a file
# in another encoding is not read as it (Shift-JIS bytes are mostly valid Windows-1252: 山田太郎
# reads as "ŽR“c‘¾˜Y"). Letters may carry accents; punctuation stands at a word's edge, an
# apostrophe or a dash between letters, a currency sign before a number, a degree sign or a
# fraction after one. The letters Windows-1252 adds to Latin-1 (Š Ž Œ ...) stand next to plain
# letters, not next to other non-ASCII characters.
_OPENERS = "“‘„‚«¿¡"
_CLOSERS = "”’»…"
_EXTRA_LETTERS = frozenset("ŠšŒœŽžŸƒ")
_WORD = re.compile(r"[^\s,;\t\"]+")
_LABELS = {WINDOWS_1252: "Windows-1252", "utf-8": "UTF-8", "utf-8-sig": "UTF-8"}


def _check_windows_1252(line: str, number: int, what: str) -> None:
    if line.isascii():
        return
    for word in _WORD.findall(line):
        if not word.isascii() and not _western(word):
            raise ListFileError(
                f"{what} {number} does not read as Windows-1252 text ({word[:40]!r}); the file is "
                "in another encoding (Shift-JIS or another East Asian encoding?): save it as "
                "UTF-8, or declare its encoding",
                **{what: number},
            )


def _western(word: str) -> bool:
    if len(word) == 1:
        return True  # a symbol on its own: "–", "£", "…"
    w = word[1:] if word[0] in _OPENERS else word
    w = w.rstrip(_CLOSERS + ".!?:")
    for i, c in enumerate(w):
        if c.isascii():
            continue
        before = w[i - 1] if i else ""
        after = w[i + 1] if i + 1 < len(w) else ""
        if c.isalpha():
            if c == "ƒ" or (c in _EXTRA_LETTERS and not _beside_ascii_letters(before, after)):
                return False
            if c.isupper() and before.isupper() and after.islower():
                return False  # "ŽRŒû": capitals running into a small letter
            continue
        if c in "’'" and before.isalpha() and after.isalpha():
            if before.isascii() or after.isascii():
                continue
        if c in "–—" and before.isascii() and after.isascii() and (before + after).isalnum():
            continue
        if c in "£€" and after.isdigit():
            continue
        if c in "°½¼¾ºª" and before.isdigit():
            continue
        return False
    return True


def _beside_ascii_letters(before: str, after: str) -> bool:
    plain = [ch for ch in (before, after) if ch]
    return bool(plain) and all(ch.isascii() for ch in plain) and any(ch.isalpha() for ch in plain)


_EOL = re.compile(rb"\r\n|\n|\r")


def _byte_lines(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """The file's lines as bytes, ends kept (CR LF, LF or a lone CR), a chunk at a time.

    Splitting the bytes is safe in every encoding a list may be in: each is ASCII-based, and no
    multi-byte character of them contains the bytes of CR or LF.
    """
    pending = b""
    while chunk := read(CHUNK_BYTES):
        data = pending + chunk
        start = 0
        for match in _EOL.finditer(data):
            if match.end() == len(data) and data.endswith(b"\r"):
                break  # perhaps the first half of a CR LF split over two chunks
            yield data[start : match.end()]
            start = match.end()
        pending = data[start:]
        if len(pending) > MAX_LINE_BYTES:
            raise ListFileError(
                f"a line of the file is longer than {MAX_LINE_BYTES // 1024} KB; it is not a list"
            )
    if pending:
        yield pending


class ListReader:
    """The records of a list, read as a stream (memory does not grow with the file).

    Yields `(row number, cells)` for every record after the heading, blank ones included. Each
    line is decoded on its own, strictly, so a file that cannot be read (not valid in its
    encoding, NUL bytes, not CSV) raises `ListFileError` naming the line or row.
    """

    def __init__(self, read: Callable[[int], bytes], encoding: str, *, declared: bool) -> None:
        self.encoding = encoding
        self._check = encoding == WINDOWS_1252 and not declared
        self.row_number = 0
        self.line_number = 0
        lines = self._text(_byte_lines(read))
        head: list[str] = []
        size = 0
        while size < SNIFF_CHARS and (line := next(lines, None)) is not None:
            head.append(line)
            size += len(line)
        self.dialect = _dialect("".join(head)[:SNIFF_CHARS])
        self._records = csv.reader(itertools.chain(head, lines), self.dialect)
        first = self._next()
        if first is None or not any(cell.strip() for cell in first):
            raise ListFileError("the file has no heading row")
        self.headings = [h.strip() for h in first]
        self.row_number = 1

    def _text(self, lines: Iterator[bytes]) -> Iterator[str]:
        codec = self.encoding
        for raw in lines:
            self.line_number += 1
            try:
                line = raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise ListFileError(
                    _not_valid(self.encoding, exc, f" at line {self.line_number}"),
                    line=self.line_number,
                ) from None
            codec = "utf-8" if codec == "utf-8-sig" else codec  # the mark opens the file only
            if "\x00" in line:
                raise ListFileError("the file contains NUL bytes; it is not a CSV text file")
            if self._check:
                _check_windows_1252(line, self.line_number, "line")
            yield line

    def _next(self) -> list[str] | None:
        try:
            return next(self._records, None)
        except csv.Error as exc:
            raise ListFileError(
                f"the file is not valid CSV (row {self.row_number + 1}): {exc}"
            ) from None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        while (cells := self._next()) is not None:
            self.row_number += 1
            yield self.row_number, cells


@dataclass(frozen=True)
class ListShape:
    """What reading the whole file once tells: how to read it and how many rows it has."""

    encoding: str
    columns: dict[str, str]  # canonical field -> heading used
    ignored_columns: list[str]
    rows_total: int  # rows that are not blank


def inspect_list(
    read: Callable[[int], bytes], encoding: str, source: str, cfg: SourceConfig, *, declared: bool
) -> ListShape:
    """Read the file through once, as the import will: refuse it now if it cannot be read."""
    reader = ListReader(read, encoding, declared=declared)
    columns, ignored = _map_headings(reader.headings, cfg.headings_for(source))
    _require_columns(columns)
    rows = sum(1 for _, cells in reader if not _blank(cells))
    return ListShape(encoding, columns, ignored, rows)


def columns_of(
    reader: ListReader, source: str, cfg: SourceConfig
) -> tuple[dict[str, str], list[str]]:
    columns, ignored = _map_headings(reader.headings, cfg.headings_for(source))
    _require_columns(columns)
    return columns, ignored


def make_row(
    row_number: int,
    cells: list[str],
    headings: list[str],
    columns: dict[str, str],
    cfg: SourceConfig,
    today: date,
) -> ParsedRow:
    """One record as a row of the list, with every problem and warning it has."""
    raw = {
        h or f"column {i + 1}": (cells[i] if i < len(cells) else "") for i, h in enumerate(headings)
    }
    row = ParsedRow(row_number, raw)
    if len(cells) > len(headings) and any(c.strip() for c in cells[len(headings) :]):
        row.problems.append(f"{len(cells)} cells but only {len(headings)} headings")
    _validate(row, columns, cfg, today)
    return row


def is_blank(cells: list[str]) -> bool:
    return _blank(cells)


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def parse_list(
    data: bytes, source: str, cfg: SourceConfig, *, today: date, declared: str | None = None
) -> ParsedFile:
    """The whole list at once (tests and tools; the import reads a stream)."""
    encoding = detect_encoding(_chunks(data), declared)
    buffer = io.BytesIO(data)
    reader = ListReader(buffer.read, encoding, declared=declared is not None)
    columns, ignored = columns_of(reader, source, cfg)
    rows: list[ParsedRow] = []
    blank: list[int] = []
    for number, cells in reader:
        if _blank(cells):
            blank.append(number)
        else:
            rows.append(make_row(number, cells, reader.headings, columns, cfg, today))
    return ParsedFile(encoding, columns, ignored, rows, blank)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _map_headings(
    headings: list[str], accepted: dict[str, tuple[str, ...]]
) -> tuple[dict[str, str], list[str]]:
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for heading in headings:
        name = next((f for f, alts in accepted.items() if heading.lower() in alts), None)
        if name is None or name in columns:
            ignored.append(heading)
        else:
            columns[name] = heading
    return columns, ignored


def _require_columns(columns: dict[str, str]) -> None:
    missing = [c for c in ("source_record_id", "referral_date") if c not in columns]
    identity = "nhs_number" in columns or all(
        c in columns for c in ("person_name", "date_of_birth", "postcode")
    )
    if not identity:
        missing.append("nhs_number (or person_name, date_of_birth and postcode)")
    if missing:
        raise ListFileError(
            "required columns are missing: " + ", ".join(missing),
            missing_columns=missing,
            found_columns=sorted(columns.values()),
        )


def _validate(row: ParsedRow, columns: dict[str, str], cfg: SourceConfig, today: date) -> None:
    missing = {m.lower() for m in cfg.missing_markers}
    cell: dict[str, str] = {}
    for name, heading in columns.items():
        value = row.raw.get(heading, "").strip()
        if value.lower() not in missing:
            cell[name] = value
    v = row.values
    for name, limit in TEXT_LIMITS.items():
        if name in cell:
            if len(cell[name]) > limit:
                row.problems.append(f"{name} is longer than {limit} characters")
            else:
                v[name] = " ".join(cell[name].split())
    if "source_record_id" not in v and "source_record_id" in columns:
        row.problems.append("the source record id is missing")
    if "nhs_number" in cell:
        number = normalise_nhs_number(cell["nhs_number"])
        if is_valid_nhs_number(number):
            v["nhs_number"] = number
        else:
            row.problems.append(
                f"NHS number {cell['nhs_number']!r} is not valid (10 digits with a Modulus 11 "
                "check digit)"
            )
    if "postcode" in cell:
        code = " ".join(cell["postcode"].upper().split())
        if POSTCODE.match(code):
            v["postcode"] = code
        else:
            row.warnings.append(f"postcode {cell['postcode']!r} is not a UK postcode; not used")
    for name in DATE_FIELDS:
        if name in cell:
            parsed = _parse_date(cell[name], cfg.date_formats)
            if parsed is None:
                row.problems.append(
                    f"{name} {cell[name]!r} is not a date (day first, e.g. 31/08/2020)"
                )
            elif parsed > today and name != "package_end_date":
                row.problems.append(f"{name} {parsed} is in the future")
            else:
                v[name] = parsed.isoformat()
    _check_flags(row, cell, cfg)
    _check_setting(row, cell, cfg)
    if "referral_date" not in v and not any(p.startswith("referral_date") for p in row.problems):
        row.problems.append("the referral date is missing")
    _check_dates(row)
    if "nhs_number" not in v and row.match_key is None and "nhs_number" not in cell:
        row.problems.append(
            "no NHS number, and name, date of birth and postcode are not all present: "
            "the person cannot be identified"
        )


def _check_flags(row: ParsedRow, cell: dict[str, str], cfg: SourceConfig) -> None:
    for name in FLAG_FIELDS:
        if name in cell:
            word = cell[name].lower()
            if word in cfg.yes_values:
                row.values[name] = True
            elif word in cfg.no_values:
                row.values[name] = False
            else:
                row.warnings.append(f"{name} {cell[name]!r} is not yes or no; not used")


def _check_setting(row: ParsedRow, cell: dict[str, str], cfg: SourceConfig) -> None:
    if "setting" in cell:
        word = cell["setting"].lower()
        found = next((k for k, words in cfg.setting_values.items() if word in words), None)
        if found is None:
            row.warnings.append(f"setting {cell['setting']!r} is not recognised; not used")
        else:
            row.values["setting"] = found


def _check_dates(row: ParsedRow) -> None:
    v = row.values
    dob, referral = v.get("date_of_birth"), v.get("referral_date")
    discharge = v.get("discharge_date")
    if dob and referral:
        born, referred = date.fromisoformat(dob), date.fromisoformat(referral)
        if born >= referred:
            row.problems.append(f"date_of_birth {dob} is not before the referral date {referral}")
        elif _age(born, referred) < ADULT_AGE:
            row.problems.append(
                "the person was under 18 at referral: children's continuing care is a separate "
                "framework"
            )
    if dob and discharge and date.fromisoformat(discharge) < date.fromisoformat(dob):
        row.problems.append(f"discharge_date {discharge} is before date_of_birth {dob}")


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# Lists repeat dates (birth dates of a few decades, referral dates of a few years) and strptime
# is a tenth of a row's reading: each distinct text is parsed once.
@lru_cache(maxsize=65536)
def _parse_date(text: str, formats: tuple[str, ...]) -> date | None:
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        # %Y also reads "20" as the year 20: a two-digit year must match a %y format instead.
        if parsed.year >= MIN_YEAR:
            return parsed
    return None
