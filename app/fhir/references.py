"""References every resource makes: the patient by NHS number, organisations, codings.

HomeFirst holds no Patient resources: a patient is referred to by identifier only. A reader whose
grant withholds identifiers (`no_identifiers`) gets the reference masked (the data-absent-reason
extension, `masked`), so the NHS number never leaves in any element.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.fhir.systems import (
    DATA_ABSENT_REASON,
    NHS_NUMBER_SYSTEM,
    ORGANISATION_ID_SYSTEM,
    PROFILES,
)

MASKED: dict[str, Any] = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]}
UNKNOWN: dict[str, Any] = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}


def patient(nhs_number: str | None, *, identifiers: bool) -> dict[str, Any]:
    if not identifiers:
        return dict(MASKED)
    if not nhs_number:
        return dict(UNKNOWN)
    return {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}}


def organisation(code: str, display: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "Organization",
        "identifier": {"system": ORGANISATION_ID_SYSTEM, "value": code},
    }
    if display:
        found["display"] = display
    return found


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def meta(resource: str, version: int, updated_at: datetime) -> dict[str, Any]:
    """`meta`: the UK Core profile, the case's version and when it last changed."""
    return {
        "profile": [PROFILES[resource]],
        "versionId": str(version),
        "lastUpdated": updated_at.isoformat(),
    }


def instant(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def period(start: datetime | None, end: datetime | None) -> dict[str, Any] | None:
    found = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    return found or None
