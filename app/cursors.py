"""The opaque keyset cursor every paged list uses: it names the last row of a page."""

from __future__ import annotations

import base64
import binascii

from app.errors import ValidationFailed

# A row id must fit a signed 64-bit integer (BIGINT on PostgreSQL, INTEGER on SQLite).
MAX_ID = 2**63 - 1


def encode_cursor(last_id: int) -> str:
    """An opaque keyset cursor naming the last row of a page."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor names; a cursor this service did not issue is a 422, never a 500."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "id" or not number.isdigit() or int(number) > MAX_ID:
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "cursor is not one this service issued", code_hint="bad_cursor"
        ) from None
