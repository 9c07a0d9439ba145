"""Search pages: an opaque keyset cursor in each direction, and the searchset Bundle.

Results are in case-id order. A page names the row it follows (`next`) or precedes
(`previous`); the cursor is base64 of "after:<id>" or "before:<id>", like the API's own
(`app.cursors`) but with a direction, since a FHIR Bundle links both ways. A cursor the service
did not issue is a 400 OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel

from app.fhir.errors import FhirError
from app.security.inputs import MAX_ID

CURSOR_PARAM = "_cursor"
Direction = Literal["after", "before"]


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    case_id: int


def encode_cursor(cursor: Cursor) -> str:
    text = f"{cursor.direction}:{cursor.case_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        text = ""
    direction, _, number = text.partition(":")
    if direction not in ("after", "before") or not number.isascii() or not number.isdigit():
        raise FhirError(f"{CURSOR_PARAM} is not one this server issued")
    value = int(number)
    if not 0 <= value <= MAX_ID:
        raise FhirError(f"{CURSOR_PARAM} is not one this server issued")
    return Cursor("after" if direction == "after" else "before", value)


@dataclass(frozen=True)
class Page:
    """One page of matches, in case-id order, with whether more lie either side."""

    case_ids: list[int]
    total: int
    more_before: bool
    more_after: bool


def searchset(
    request: Request, page: Page, entries: list[tuple[str, BaseModel]], base: str
) -> Bundle:
    """The searchset Bundle: `entries` are (resource type/id, resource) in page order."""
    links: list[dict[str, Any]] = [{"relation": "self", "url": str(request.url)}]
    if page.case_ids and page.more_after:
        after = encode_cursor(Cursor("after", page.case_ids[-1]))
        links.append({"relation": "next", "url": _with_cursor(request, after)})
    if page.case_ids and page.more_before:
        before = encode_cursor(Cursor("before", page.case_ids[0]))
        links.append({"relation": "previous", "url": _with_cursor(request, before)})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links,
    }
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {"fullUrl": f"{base}/{address}", "resource": resource, "search": {"mode": "match"}}
            for address, resource in entries
        ]
    return Bundle.model_validate(bundle)


def _with_cursor(request: Request, token: str) -> str:
    return str(request.url.include_query_params(**{CURSOR_PARAM: token}))
