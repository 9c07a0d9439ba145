"""Test NHS numbers: the 999 range, each with a valid Modulus 11 check digit."""

from __future__ import annotations

from app.calc.nhs_number import is_valid_nhs_number, nhs_number_check_digit

RANGE_PREFIX = "999"


def nhs_numbers(*, start: int, count: int) -> list[str]:
    """`count` distinct numbers 999xxxxxxC, from the `start`-th six-digit body on (wrapping)."""
    out: list[str] = []
    body = start % 1_000_000
    seen = 0
    while len(out) < count and seen < 1_000_000:
        first_nine = f"{RANGE_PREFIX}{body:06d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            number = f"{first_nine}{check}"
            assert is_valid_nhs_number(number)  # noqa: S101 - the project's own validator agrees
            out.append(number)
        body = (body + 1) % 1_000_000
        seen += 1
    return out
