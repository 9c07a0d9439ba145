"""Encounter (UK Core): a discharge case read as the acute hospital spell.

- status from the case's state (`app.fhir.statuses`); class IMP (inpatient);
- period from the admission to the patient leaving hospital, and the discharge-ready date, from
  the spell read model (`discharge_spells`) that the Ready-for-Discharge list reads, or for a
  case without a spell row yet, from `derive_facts` over its events, exactly as that list does;
- location: the ward (and bed) over time, from the `open` event and every later `update_details`
  or `ward_transfer` event that names a ward or bed, ordered by clinical time;
- hospitalization.dischargeDisposition: the case's UK Core discharge destination code;
- the discharge-ready date as HomeFirst's extension (`app.fhir.structure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.encounter import Encounter

from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.discharge.history import EVENTS_OF_INTEREST, derive_facts
from app.discharge.spell_rows import family_lookup
from app.fhir import references as ref
from app.fhir.repository import FhirRepository
from app.fhir.statuses import encounter_status
from app.fhir.systems import (
    ACT_CODE_SYSTEM,
    DISCHARGE_DESTINATION_LIST,
    DISCHARGE_DESTINATION_SYSTEM,
    DRD_EXTENSION,
    HOSPITAL_SYSTEM_ID_SYSTEM,
    LOCATION_TYPE_SYSTEM,
)
from app.models import Case, CaseEvent
from app.models.spell import DischargeSpell
from app.timeutil import london_date

# Events that can say where the patient is: the opening, a details update, a ward transfer
# (the ADT feed's; an event the pathway does not have yet is simply never found).
LOCATION_EVENTS = ("open", "update_details", "ward_transfer")


@dataclass(frozen=True)
class Stay:
    """The patient on one ward (and bed, when known) from `start` until `end`."""

    ward: str
    bed: str | None
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class SpellFacts:
    admitted_at: datetime | None
    left_at: datetime | None
    discharge_ready_date: date | None


def ward_history(events: Sequence[CaseEvent], left_at: datetime | None) -> list[Stay]:
    """Each ward (and bed) the events put the patient on, in clinical-time order. An event that
    names a ward without a bed leaves the bed unknown; one that names only a bed moves the patient
    within the ward; one that changes neither is no move."""
    moves: list[tuple[str, str | None, datetime]] = []
    ward: str | None = None
    bed: str | None = None
    for event in sorted(events, key=lambda e: (e.occurred_at, e.seq)):
        data = event.data or {}
        new_ward = _text(data.get("ward"))
        new_bed = _text(data.get("bed"))
        if new_ward is None and new_bed is None:
            continue
        if new_ward is not None and new_ward != ward:
            ward, bed = new_ward, new_bed
        elif new_bed is not None:
            bed = new_bed
        else:
            continue
        if ward is None:
            continue  # a bed before any ward is known: nothing to place it in
        if moves and (moves[-1][0], moves[-1][1]) == (ward, bed):
            continue
        moves.append((ward, bed, event.occurred_at))
    stays = []
    for index, (ward_name, bed_name, start) in enumerate(moves):
        end = moves[index + 1][2] if index + 1 < len(moves) else left_at
        stays.append(Stay(ward_name, bed_name, start, end))
    return stays


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def spell_facts(
    rows: Sequence[tuple[Case, DischargeSpell | None]],
    repo: FhirRepository,
    codes: CodeSetRegistry,
) -> dict[int, SpellFacts]:
    """Admission, leaving hospital and the discharge-ready date of each case: from its spell row,
    or derived from its events when it has none (as the Ready-for-Discharge list does)."""
    missing = [case.id for case, spell in rows if spell is None]
    events = repo.events(missing, EVENTS_OF_INTEREST)
    family = family_lookup(codes)
    found = {}
    for case, spell in rows:
        if spell is not None:
            drd = date.fromordinal(spell.drd_day) if spell.drd_day is not None else None
            found[case.id] = SpellFacts(spell.admitted_at, spell.left_at, drd)
            continue
        facts = derive_facts(events.get(case.id, []), family)
        admitted = (case.attributes or {}).get("admitted_at")
        found[case.id] = SpellFacts(
            datetime.fromisoformat(admitted) if admitted else None,
            facts.left_hospital_at,
            facts.drd.discharge_ready_date,
        )
    return found


def build(
    case: Case,
    facts: SpellFacts,
    history: Sequence[CaseEvent],
    codes: CodeSetRegistry,
    *,
    identifiers: bool,
) -> Encounter:
    attributes = case.attributes or {}
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(case.id),
        "meta": ref.meta("Encounter", case.version, case.updated_at),
        "status": encounter_status(case.state),
        "class": ref.coding(ACT_CODE_SYSTEM, "IMP", "inpatient encounter"),
        "subject": ref.patient(case.patient_ref, identifiers=identifiers),
        "serviceProvider": _provider(case),
    }
    if facts.discharge_ready_date is not None:
        resource["extension"] = [
            {"url": DRD_EXTENSION, "valueDate": facts.discharge_ready_date.isoformat()}
        ]
    period = ref.period(facts.admitted_at, facts.left_at)
    if period:
        resource["period"] = period
    stays = ward_history(history, facts.left_at)
    if stays:
        resource["location"] = [_location(s) for s in stays]
    destination = attributes.get("destination_code")
    if isinstance(destination, str) and destination:
        resource["hospitalization"] = {
            "dischargeDisposition": _destination(destination, facts.left_at, codes)
        }
    return Encounter.model_validate(resource)


def _provider(case: Case) -> dict[str, Any]:
    """The hospital system (trust) of the spell when recorded, else the owning organisation."""
    system = (case.attributes or {}).get("hospital_system")
    if isinstance(system, str) and system:
        return {
            "type": "Organization",
            "identifier": {"system": HOSPITAL_SYSTEM_ID_SYSTEM, "value": system},
            "display": system,
        }
    return ref.organisation(case.organisation)


def _location(stay: Stay) -> dict[str, Any]:
    where = f"{stay.ward}, bed {stay.bed}" if stay.bed else stay.ward
    kind = ("bd", "Bed") if stay.bed else ("wa", "Ward")
    return {
        "location": {"display": where},
        "status": "completed" if stay.end is not None else "active",
        "physicalType": {"coding": [ref.coding(LOCATION_TYPE_SYSTEM, *kind)]},
        "period": ref.period(stay.start, stay.end),
    }


def _destination(code: str, left_at: datetime | None, codes: CodeSetRegistry) -> dict[str, Any]:
    """The code in the UK Core England code system, with its published display
    (pathways/codelists/ukcore-discharge-destination.yaml holds the code system's exact displays,
    PUBLISHED-RULES.md §2.8). A label that is not the published display (`verbatim: false`, or a
    list for another code system) is never passed off as one: it goes in `text` instead."""
    entry = None
    system_of_list = None
    if left_at is not None:
        on = london_date(left_at)
        try:
            listed = codes.current(DISCHARGE_DESTINATION_LIST, on)
        except CodeSetNotFound:
            listed = None
        if listed is not None:
            entry, system_of_list = listed.get(code), listed.system
    exact = entry is not None and entry.verbatim and system_of_list == DISCHARGE_DESTINATION_SYSTEM
    display = entry.label if entry is not None and exact else None
    concept: dict[str, Any] = {"coding": [ref.coding(DISCHARGE_DESTINATION_SYSTEM, code, display)]}
    if entry is not None and not exact:
        concept["text"] = entry.label
    return concept
