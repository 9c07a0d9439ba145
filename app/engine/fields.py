"""Typed event data: every key an event carries is declared, typed and checked here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import ValidationFailed
from app.security.text import control_character, control_message
from app.timeutil import DATE_RANGE_MSG, LONDON, as_utc, in_date_range

# (codelist key, code, on date) -> the version of the list that holds the code on that date,
# or None when the code is not current.
CodeCheck = Callable[[str, str, date], str | None]
# Event data key recording which code-list version each coded field was checked against, so a
# record keeps "the code and the list version in force" (docs/domain.md §5.5).
CODELISTS_KEY = "_codelists"
# Every integer field must fit a signed 64-bit column (BIGINT on PostgreSQL, INTEGER on SQLite):
# rules and read models look ids up and store them (an IC `service_id`), and a larger number would
# reach the database driver and fail there. A field's own `minimum`/`maximum` narrow this range.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def validate_data(
    spec: PathwaySpec,
    data: dict[str, Any],
    *,
    allowed: Iterable[str],
    required: Iterable[str],
    on: date,
    code_check: CodeCheck | None = None,
) -> dict[str, Any]:
    """Return the data normalised to JSON-safe values, or raise with every problem found."""
    allowed_set = set(allowed)
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name not in allowed_set:
            errors.append({"field": name, "problem": "not accepted by this event"})
            continue
        field = spec.fields[name]
        try:
            clean[name] = _coerce(field, value, on, code_check)
        except ValueError as exc:
            errors.append({"field": name, "problem": str(exc)})
            continue
        if field.type in ("code", "codes") and clean[name] is not None and code_check is not None:
            # Every code of a `codes` value was checked against the same version (same date).
            first = clean[name] if field.type == "code" else clean[name][0]
            version = code_check(str(field.codelist), first, on)
            clean.setdefault(CODELISTS_KEY, {})[name] = f"{field.codelist}@{version}"
    for name in required:
        if clean.get(name) is None and not any(e["field"] == name for e in errors):
            errors.append({"field": name, "problem": "required"})
    if errors:
        raise ValidationFailed("The event data is not valid; see errors.", errors=errors)
    return clean


def _coerce(field: FieldSpec, value: Any, on: date, code_check: CodeCheck | None) -> Any:
    if value is None:
        return None
    kind = field.type
    if kind == "codes":
        return _coerce_codes(field, value, on, code_check)
    if kind in ("string", "text", "enum", "nhs_number", "code"):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if len(value) > field.max_length:
            raise ValueError(f"must be at most {field.max_length} characters")
        # Only `text` is free text (tab and line breaks allowed); every other kind is one line.
        char = control_character(value, single_line=kind != "text")
        if char is not None:
            raise ValueError(control_message(char))
    if kind == "enum" and value not in field.choices:
        raise ValueError(f"must be one of {', '.join(field.choices)}")
    if kind == "nhs_number":
        if not is_valid_nhs_number(value):
            raise ValueError("is not a valid NHS number (10 digits with a Modulus 11 check digit)")
        return normalise_nhs_number(value)
    if kind == "code":
        assert field.codelist is not None  # noqa: S101 - guaranteed by FieldSpec validation
        if code_check is None or code_check(field.codelist, value, on) is None:
            raise ValueError(f"is not a current code in {field.codelist}")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        low = INT_MIN if field.minimum is None else max(field.minimum, INT_MIN)
        high = INT_MAX if field.maximum is None else min(field.maximum, INT_MAX)
        if value < low:
            raise ValueError(f"must be at least {low}")
        if value > high:
            raise ValueError(f"must be at most {high}")
    if kind == "boolean" and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if kind == "date":
        day = _parse_date(value)
        _not_after(field, day, on)
        return day.isoformat()
    if kind == "datetime":
        at = _parse_datetime(value)
        _not_after(field, at.astimezone(LONDON).date(), on)
        return at.isoformat()
    return value


def _coerce_codes(field: FieldSpec, value: Any, on: date, code_check: CodeCheck | None) -> Any:
    """A list of distinct codes, each current in the field's code list on `on`, in the order
    given. An empty list is refused: leave the field out to record nothing."""
    assert field.codelist is not None  # noqa: S101 - guaranteed by FieldSpec validation
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of codes")
    codes = [v.strip() for v in value]
    if not codes:
        raise ValueError("must name at least one code (leave it out to record none)")
    if len(codes) > field.max_items:
        raise ValueError(f"must name at most {field.max_items} codes")
    if len(set(codes)) != len(codes):
        raise ValueError("must not name a code twice")
    unknown = [
        c
        for c in codes
        if not c
        or len(c) > field.max_length
        or control_character(c, single_line=True) is not None
        or code_check is None
        or code_check(field.codelist, c, on) is None
    ]
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:5])
        raise ValueError(f"{shown}: not a current code in {field.codelist} on {on.isoformat()}")
    return codes


def _not_after(field: FieldSpec, day: date, on: date) -> None:
    if field.not_in_future and day > on:
        raise ValueError(f"must not be after the event's date ({on.isoformat()})")


def _parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None
    if not in_date_range(day):
        raise ValueError(DATE_RANGE_MSG)
    return day


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be a date-time with a time zone, e.g. 2026-01-31T14:30:00Z")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be a date-time with a time zone, e.g. 2026-01-31T14:30:00Z"
        ) from None
    if not in_date_range(at.date()):  # first: 9999-12-31T23:00-05:00 has no UTC time
        raise ValueError(DATE_RANGE_MSG)
    try:
        return as_utc(at)
    except ValueError:
        raise ValueError(
            "must be a date-time with a time zone, e.g. 2026-01-31T14:30:00Z"
        ) from None
