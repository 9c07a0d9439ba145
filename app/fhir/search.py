"""Search parameters, read strictly: what each means, and a 400 for anything not understood.

- `patient.identifier`: `https://fhir.nhs.uk/Id/nhs-number|<NHS number>`, `|<NHS number>` or the
  bare number; several, comma-separated, mean any of them. Another system is refused (HomeFirst
  knows patients by NHS number only), and so is a number that fails the Modulus 11 check.
- `status`: the resource's status codes, comma-separated (any of them).
- `date` (`period` for Task) and `_lastUpdated`: a date or date-time with an optional prefix
  `eq`, `gt`, `lt`, `ge`, `le` (others are refused); repeat the parameter for a range (all must
  hold). A date without a time zone is a Europe/London date or time. A value covers its
  precision: `2026-03` is the whole month.
- `_count`: entries per page (0 gives only the total), capped at the server's page size;
  `_cursor`: the opaque position the Bundle's next and previous links carry.

Parameters given twice where a repeat means nothing (all but `date`, `period`, `_lastUpdated`)
are refused rather than one silently winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Query, Request

from app.calc.nhs_number import is_valid_nhs_number
from app.fhir.errors import FhirError
from app.fhir.paging import CURSOR_PARAM, Cursor, decode_cursor
from app.fhir.systems import NHS_NUMBER_SYSTEM
from app.timeutil import LONDON, in_date_range

PREFIXES = ("eq", "gt", "lt", "ge", "le")
UNSUPPORTED_PREFIXES = ("ne", "sa", "eb", "ap")
MAX_VALUES = 20
DATE_VALUE = re.compile(
    r"(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
REPEATABLE = frozenset({"date", "period", "_lastUpdated"})

PATIENT_DOC = (
    "The patient's NHS number: https://fhir.nhs.uk/Id/nhs-number|9434765919, |9434765919 or "
    "9434765919; comma-separated for any of several"
)
DATE_DOC = "[eq|gt|lt|ge|le]YYYY[-MM[-DD[Thh:mm[:ss][Z|+hh:mm]]]]; repeat for a range"


@dataclass(frozen=True)
class DateBound:
    """One date condition: `prefix` applied to the instants [low, high)."""

    prefix: str
    low: datetime
    high: datetime


@dataclass(frozen=True)
class SearchQuery:
    nhs_numbers: tuple[str, ...] | None
    statuses: frozenset[str] | None
    period: tuple[DateBound, ...]
    last_updated: tuple[DateBound, ...]
    count: int | None
    cursor: Cursor | None


PatientParam = Annotated[
    str | None, Query(alias="patient.identifier", max_length=1200, description=PATIENT_DOC)
]
StatusParam = Annotated[
    str | None, Query(max_length=200, description="Status codes, comma-separated (any of them)")
]
DateParam = Annotated[list[str] | None, Query(max_length=40, description=DATE_DOC)]
LastUpdatedParam = Annotated[
    list[str] | None, Query(alias="_lastUpdated", max_length=40, description=DATE_DOC)
]
CountParam = Annotated[
    int | None, Query(alias="_count", ge=0, description="Entries per page (0: the total only)")
]
CursorParam = Annotated[
    str | None,
    Query(alias=CURSOR_PARAM, max_length=100, description="From a Bundle's next/previous link"),
]


def parse_search(
    request: Request,
    *,
    patient: str | None,
    status: str | None,
    dates: list[str] | None,
    last_updated: list[str] | None,
    count: int | None,
    cursor: str | None,
    statuses: tuple[str, ...],
    date_name: str,
) -> SearchQuery:
    """The query a search route was given, checked; `statuses` are the resource's codes."""
    params = request.query_params
    repeated = sorted(
        n for n in set(params.keys()) if n not in REPEATABLE and len(params.getlist(n)) > 1
    )
    if repeated:
        raise FhirError(f"give each of these once (comma-separate values): {', '.join(repeated)}")
    return SearchQuery(
        nhs_numbers=_patients(patient) if patient is not None else None,
        statuses=_statuses(status, statuses) if status is not None else None,
        period=tuple(parse_date(v, date_name) for v in dates or ()),
        last_updated=tuple(parse_date(v, "_lastUpdated") for v in last_updated or ()),
        count=count,
        cursor=decode_cursor(cursor) if cursor is not None else None,
    )


def _values(raw: str, name: str) -> list[str]:
    values = [v.strip() for v in raw.split(",")]
    if not all(values):
        raise FhirError(f"{name}: an empty value")
    if len(values) > MAX_VALUES:
        raise FhirError(f"{name}: at most {MAX_VALUES} values")
    return values


def _patients(raw: str) -> tuple[str, ...]:
    numbers = []
    for value in _values(raw, "patient.identifier"):
        system, bar, number = value.rpartition("|")
        if bar and system not in ("", NHS_NUMBER_SYSTEM):
            raise FhirError(
                f"patient.identifier: patients are found by NHS number only "
                f"({NHS_NUMBER_SYSTEM}), not {system!r}",
                issue="not-supported",
            )
        if not is_valid_nhs_number(number):
            raise FhirError(f"patient.identifier: {number!r} is not a valid NHS number")
        numbers.append(number)
    return tuple(numbers)


def _statuses(raw: str, allowed: tuple[str, ...]) -> frozenset[str]:
    values = _values(raw, "status")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise FhirError(f"status: {', '.join(unknown)} not among {', '.join(allowed)}")
    return frozenset(values)


def parse_date(raw: str, name: str) -> DateBound:
    text = raw.strip()
    prefix = text[:2] if text[:2].isalpha() else "eq"
    value = text[2:] if text[:2].isalpha() else text
    if prefix in UNSUPPORTED_PREFIXES:
        raise FhirError(f"{name}: the prefix {prefix!r} is not supported", issue="not-supported")
    match = DATE_VALUE.fullmatch(value)
    if prefix not in PREFIXES or match is None:
        raise FhirError(f"{name}: {raw!r} is not a date ({DATE_DOC})")
    try:
        low, high = _range(match)
    except ValueError:
        raise FhirError(f"{name}: {raw!r} is not a date on the calendar") from None
    return DateBound(prefix, low, high)


def _range(match: re.Match[str]) -> tuple[datetime, datetime]:
    """The instants a date value covers, [low, high), in UTC."""
    parts = match.groupdict()
    year = int(parts["year"])
    month, day = int(parts["month"] or 1), int(parts["day"] or 1)
    start = date(year, month, day)  # ValueError for a day not on the calendar
    if not in_date_range(start):
        raise ValueError(start)
    if parts["hour"] is None:
        if parts["month"] is None:
            end = date(year + 1, 1, 1)
        elif parts["day"] is None:
            end = date(year + month // 12, month % 12 + 1, 1)
        else:
            end = start + timedelta(days=1)
        return _london_midnight(start), _london_midnight(end)
    second = int(parts["second"]) if parts["second"] is not None else None
    moment = datetime(year, month, day, int(parts["hour"]), int(parts["minute"]), second or 0)
    zone = parts["zone"]
    if zone is None:
        local = moment.replace(tzinfo=LONDON)
    else:
        local = datetime.fromisoformat(f"{moment.isoformat()}{'+00:00' if zone == 'Z' else zone}")
    low = local.astimezone(UTC)
    return low, low + timedelta(seconds=1 if second is not None else 60)


def _london_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(UTC)
