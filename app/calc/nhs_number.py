"""NHS number normalisation and Modulus 11 validation.

An NHS number is ten digits; the tenth is a check digit over the first nine. The check digit
is computed with the Modulus 11 algorithm:

1. multiply the first nine digits by the weights 10, 9, ..., 2 and add the products;
2. take the remainder of that sum divided by 11;
3. subtract the remainder from 11;
4. a result of 11 becomes check digit 0; a result of 10 means the nine digits cannot form a
   valid NHS number (no number is ever issued with them).

Only the format and the check digit are tested here. Whether a number is actually allocated
(or is a test number) can only be answered by PDS, not by arithmetic.
"""

from __future__ import annotations

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Only ASCII 0-9 are digits here: str.isdigit() also accepts e.g. Arabic-Indic and superscript
# digits, which would let a malformed identifier through.
_ASCII_DIGITS = frozenset("0123456789")
# People write NHS numbers as "943 476 5919" or "943-476-5919"; both are the same number.
_SEPARATORS = frozenset(" -")


def normalise_nhs_number(raw: str) -> str:
    """Return ``raw`` with spaces and hyphens removed (and surrounding whitespace trimmed).

    Nothing else is changed, so a malformed value stays malformed and fails validation.
    """
    return "".join(ch for ch in raw.strip() if ch not in _SEPARATORS)


def _is_ascii_digits(value: str, length: int) -> bool:
    return len(value) == length and all(ch in _ASCII_DIGITS for ch in value)


def nhs_number_check_digit(first_nine: str) -> int | None:
    """Return the Modulus 11 check digit for the first nine digits of an NHS number.

    Returns ``None`` when the algorithm yields 10: such a nine-digit prefix never has a valid
    check digit. Raises ``ValueError`` if ``first_nine`` is not exactly nine ASCII digits.
    """
    if not _is_ascii_digits(first_nine, 9):
        raise ValueError(f"expected exactly nine digits, got {first_nine!r}")
    total = sum(int(ch) * weight for ch, weight in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(raw: str) -> bool:
    """True if ``raw`` normalises to ten ASCII digits ending in the correct check digit."""
    number = normalise_nhs_number(raw)
    if not _is_ascii_digits(number, 10):
        return False
    expected = nhs_number_check_digit(number[:9])
    return expected is not None and expected == int(number[9])
