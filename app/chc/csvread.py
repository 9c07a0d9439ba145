"""Reading one organisation's backlog list: decode, map headings, validate every row.

Pure: bytes in, typed rows and problems out (docs/domain.md §7.10, §12.2 idea 8 "data-quality
firewall"). UTF-8, UTF-8 with a byte-order mark and Windows-1252 are accepted. Dates are day
first. Each row is either clean (its values normalised) or carries every reason it is refused;
nothing is dropped here. Row numbers are spreadsheet row numbers (the heading is row 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.chc.config import SourceConfig

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
DATE_FIELDS = ("date_of_birth", "referral_date", "discharge_date", "package_end_date")
FLAG_FIELDS = ("interim_nhs_funded", "fast_track", "safeguarding_concern")
TEXT_LIMITS = {"source_record_id": 100, "person_name": 200}
ADULT_AGE = 18
MIN_YEAR = 1900


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


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read with."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ListFileError("the file is UTF-16; save it as CSV (UTF-8 or Windows-1252)")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise ListFileError(f"the file starts as UTF-8 but is not: {exc}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise ListFileError(f"the file is neither UTF-8 nor Windows-1252: {exc}") from None


def parse_list(data: bytes, source: str, cfg: SourceConfig, *, today: date) -> ParsedFile:
    text, encoding = decode(data)
    if "\x00" in text:
        raise ListFileError("the file contains NUL bytes; it is not a CSV text file")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), _dialect(text)))
    except csv.Error as exc:
        raise ListFileError(f"the file is not valid CSV: {exc}") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ListFileError("the file has no heading row")
    headings = [h.strip() for h in records[0]]
    columns, ignored = _map_headings(headings, cfg.headings_for(source))
    _require_columns(columns)
    rows: list[ParsedRow] = []
    blank: list[int] = []
    for offset, cells in enumerate(records[1:], start=2):
        if not any(c.strip() for c in cells):
            blank.append(offset)
            continue
        raw = {
            h or f"column {i + 1}": (cells[i] if i < len(cells) else "")
            for i, h in enumerate(headings)
        }
        row = ParsedRow(offset, raw)
        if len(cells) > len(headings) and any(c.strip() for c in cells[len(headings) :]):
            row.problems.append(f"{len(cells)} cells but only {len(headings)} headings")
        _validate(row, columns, cfg, today)
        rows.append(row)
    return ParsedFile(encoding, columns, ignored, rows, blank)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
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
