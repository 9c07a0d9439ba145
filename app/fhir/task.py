"""Task (UK Core): open work on a case, one kind per workflow (see `app.fhir.sources`).

- `claim`: an assessor holds a live claim on a CHC case (the work queue's claim); in progress,
  owned by the assessor, authored when claimed, focus the EpisodeOfCare.
- `start`: an IC episode waiting for capacity; ready, owned by the organisation, authored when
  it started waiting, focus the EpisodeOfCare.
- `delay`: a discharge with delay reasons open; in progress, owned by the responsible person
  (else the organisation), authored when the earliest open delay began, focus the Encounter;
  its business status names the open reasons (from the spell read model's delay periods).

A Task lasts as long as its work: a released or lapsed claim, a start, or the last delay ending
makes it disappear (404), as the work queue shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.task import Task

from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.discharge.spell_rows import DELAY_LIST
from app.fhir import references as ref
from app.fhir.sources import TASK_STATUS
from app.fhir.systems import TASK_TYPE_SYSTEM, USER_ID_SYSTEM
from app.models import Case
from app.models.chc import ChcWorkItem
from app.models.spell import DischargeDelayPeriod
from app.timeutil import london_date

TASK_TYPES = {
    "claim": ("chc-claim", "Work a claimed CHC case"),
    "start": ("ic-start", "Start intermediate care"),
    "delay": ("discharge-delay", "Resolve what delays a discharge"),
}


def build(
    case: Case,
    kind: str,
    since: datetime | None,
    item: ChcWorkItem | None,
    delays: Sequence[DischargeDelayPeriod],
    codes: CodeSetRegistry,
    *,
    identifiers: bool,
) -> Task:
    attributes = case.attributes or {}
    code, display = TASK_TYPES[kind]
    focus = "Encounter" if kind == "delay" else "EpisodeOfCare"
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": f"{case.id}-{kind}",
        "meta": ref.meta("Task", case.version, case.updated_at),
        "status": TASK_STATUS[kind],
        "intent": "order",
        "code": {"coding": [ref.coding(TASK_TYPE_SYSTEM, code, display)]},
        "businessStatus": {"text": _business_status(kind, attributes, item, delays, codes)},
        "focus": {"reference": f"{focus}/{case.id}"},
        "for": ref.patient(case.patient_ref, identifiers=identifiers),
        "owner": _owner(kind, case, item),
        "lastModified": case.updated_at.isoformat(),
    }
    if since is not None:
        resource["authoredOn"] = since.isoformat()
        resource["executionPeriod"] = {"start": since.isoformat()}
    return Task.model_validate(resource)


def _owner(kind: str, case: Case, item: ChcWorkItem | None) -> dict[str, Any]:
    if kind == "claim" and item is not None and item.claimed_by:
        return {
            "type": "Practitioner",
            "identifier": {"system": USER_ID_SYSTEM, "value": item.claimed_by},
            "display": item.claimed_by,
        }
    person = (case.attributes or {}).get("responsible_person")
    if kind == "delay" and isinstance(person, str) and person:
        return {"display": person}
    return ref.organisation(case.organisation)


def _business_status(
    kind: str,
    attributes: dict[str, Any],
    item: ChcWorkItem | None,
    delays: Sequence[DischargeDelayPeriod],
    codes: CodeSetRegistry,
) -> str:
    if kind == "claim":
        until = item.claim_expires_at if item is not None else None
        return f"Claimed until {until.isoformat()}" if until else "Claimed"
    if kind == "start":
        model = attributes.get("planned_model")
        priority = attributes.get("priority")
        parts = ["Waiting for capacity"]
        if model:
            parts.append(f"planned model {model}")
        if priority:
            parts.append(f"priority {priority}")
        return ", ".join(parts)
    reasons = [_delay_label(p, codes) for p in delays]
    return "Delayed: " + "; ".join(reasons) if reasons else "Delayed"


def _delay_label(period: DischargeDelayPeriod, codes: CodeSetRegistry) -> str:
    try:
        entry = codes.lookup(DELAY_LIST, period.code, london_date(period.started_at))
    except CodeSetNotFound:
        entry = None
    return f"{period.code} {entry.label}" if entry is not None else period.code
