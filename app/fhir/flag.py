"""Flag (UK Core): a discharge case's escalation to the daily huddle.

One Flag per discharge case that has ever been escalated (`<case id>-escalation`): active while
the case is escalated and open, inactive once cleared (or the case closed). period: from the
latest escalation to its clearing (or the case's close); code text: the reason given when it was
raised. The Encounter it belongs to is the case's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.flag import Flag

from app.fhir import references as ref
from app.fhir.systems import FLAG_CATEGORY_SYSTEM, FLAG_CODE_SYSTEM
from app.models import Case, CaseEvent
from app.models.spell import DischargeSpell

RAISE = "raise_escalation"


def build(
    case: Case,
    spell: DischargeSpell | None,
    start: datetime | None,
    end: datetime | None,
    raised: Sequence[CaseEvent],
    *,
    identifiers: bool,
) -> Flag:
    active = bool(spell is not None and spell.escalated and case.is_open)
    reason = _reason(raised)
    code: dict[str, Any] = {
        "coding": [ref.coding(FLAG_CODE_SYSTEM, "escalation", "Escalated to the discharge huddle")]
    }
    if reason:
        code["text"] = reason
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": f"{case.id}-escalation",
        "meta": ref.meta("Flag", case.version, case.updated_at),
        "status": "active" if active else "inactive",
        "category": [{"coding": [ref.coding(FLAG_CATEGORY_SYSTEM, "admin", "Administrative")]}],
        "code": code,
        "subject": ref.patient(case.patient_ref, identifiers=identifiers),
        "encounter": {"reference": f"Encounter/{case.id}"},
    }
    period = ref.period(start, None if active else end)
    if period:
        resource["period"] = period
    return Flag.model_validate(resource)


def _reason(raised: Sequence[CaseEvent]) -> str | None:
    """The reason given with the latest escalation."""
    for event in reversed(raised):
        text = (event.data or {}).get("escalation_reason")
        if isinstance(text, str) and text.strip():
            return text
    return None
