"""What each ADT message does to the patient's discharge case, through the one transition entry
point (`CaseWriter`) as the interface's system user. A message that cannot be applied raises
`MessageRefused` saying why; the caller rolls back whatever it had started.

A01 admit       opens the discharge case (or brings an open one up to date: ward, bed, numbers)
A02 transfer    `ward_transfer` to the new ward and bed
A03 discharge   `discharge` with the UK Core destination from PV1-36 (`died` for 79)
A08 update      `ward_transfer` if the location changed; `update_details` for the expected
                discharge date (PV2-9) and the hospital number
A11 cancel admit      `cancel`
A12 cancel transfer   `ward_transfer` back to the location in PV1-3
A13 cancel discharge  `cancel_discharge` (the patient is an inpatient again)
A40 merge       the merged-away local numbers lead to the surviving patient
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.adt.feed import INPATIENT, LEFT, Applied, Feed
from app.adt.message import AdtMessage, MessageRefused
from app.adt.patients import Patient, identify, merge
from app.engine.engine import OpenCommand
from app.models import Case

DIED = "79"  # UK Core discharge destination: not applicable, the patient died
# PV1-2 patient classes that are a hospital spell (I inpatient; "" when the PAS leaves it out).
INPATIENT_CLASSES = frozenset({"I", ""})


def apply(feed: Feed, msg: AdtMessage) -> Applied:
    handler = HANDLERS.get(msg.trigger)
    if handler is None:
        return Applied(note=f"{msg.message_type} is not used by HomeFirst", ignored=True)
    patient = identify(feed, msg)
    return handler(feed, msg, patient)


# -- the handlers -----------------------------------------------------------------------------
def _admit(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    if msg.patient_class not in INPATIENT_CLASSES:
        # An emergency attendance or outpatient visit is no hospital spell to discharge from.
        return Applied(
            note=f"patient class {msg.patient_class!r} is not an admission", ignored=True
        )
    place = _required_place(feed, msg)
    case = feed.repo.latest_case(feed.interface.organisation, patient.nhs_number, INPATIENT)
    if case is not None:
        _check_order(feed, msg, case)
        return _bring_up_to_date(feed, msg, case, patient, place, admitting=True)
    admitted_at = msg.admitted_at or msg.event_at or feed.now
    data: dict[str, Any] = {
        "hospital_system": feed.interface.hospital_system,
        "ward": place.ward,
        "admitted_at": admitted_at.isoformat(),
    }
    if place.bed:
        data["bed"] = place.bed
    if patient.local_number:
        data["hospital_number"] = patient.local_number
    if msg.expected_discharge:
        data["expected_discharge_date"] = msg.expected_discharge.isoformat()
    if msg.date_of_birth:
        data["date_of_birth"] = msg.date_of_birth.isoformat()
    opened = feed.writer.open(
        feed.session,
        OpenCommand(
            "discharge",
            feed.actor,
            feed.interface.organisation,
            place.site,
            patient.nhs_number,
            data,
            admitted_at,
            feed.reason(msg, "admitted"),
        ),
        now=feed.now,
    )
    return Applied(opened.id, ["open"])


def _transfer(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    case = _inpatient_case(feed, msg, patient)
    place = _required_place(feed, msg)
    events = _move(feed, msg, case, place, "moved")
    return Applied(case.id, events, None if events else "already on that ward and bed")


def _update(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    case = feed.repo.latest_case(feed.interface.organisation, patient.nhs_number, INPATIENT)
    if case is None:  # the PAS updates everyone; only inpatients with a spell here matter
        return Applied(note="no open hospital spell for this patient", ignored=True)
    _check_order(feed, msg, case)
    return _bring_up_to_date(feed, msg, case, patient, _place(feed, msg), admitting=False)


def _discharge(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    org, nhs = feed.interface.organisation, patient.nhs_number
    case = feed.repo.latest_case(org, nhs, INPATIENT)
    if case is None:
        left = feed.repo.latest_case(org, nhs, LEFT)
        if left is not None:
            return Applied(left.id, [], f"already discharged (case {left.id}); nothing changed")
        raise _no_spell(msg)
    code = _destination(feed, msg)
    at = msg.discharged_at or msg.event_at
    if code == DIED:
        feed.fire(case, "died", {}, at, feed.reason(msg, "died (PV1-36 79)"))
        return Applied(case.id, ["died"])
    feed.fire(case, "discharge", {"destination_code": code}, at, feed.reason(msg, "left"))
    return Applied(case.id, ["discharge"])


def _cancel_admit(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    case = _inpatient_case(feed, msg, patient, located=False)
    reason = feed.reason(msg, "admission cancelled")
    feed.fire(
        case,
        "cancel",
        {"cancel_reason": "Admission cancelled in the PAS (A11)"},
        msg.event_at,
        reason,
    )
    return Applied(case.id, ["cancel"])


def _cancel_transfer(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    case = _inpatient_case(feed, msg, patient)
    place = _required_place(feed, msg)
    events = _move(feed, msg, case, place, "transfer cancelled")
    return Applied(case.id, events, None if events else "already on that ward and bed")


def _cancel_discharge(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    case = feed.repo.latest_case(feed.interface.organisation, patient.nhs_number, ("discharged",))
    if case is None:
        raise MessageRefused(
            "no_discharge_to_cancel",
            "There is no discharge of this patient to cancel (no case in the discharged state).",
            hl7_code="204",
        )
    feed.fire(case, "cancel_discharge", {}, msg.event_at, feed.reason(msg, "discharge cancelled"))
    events = ["cancel_discharge"]
    place = _place(feed, msg)
    if place is not None:
        events += _move(feed, msg, case, place, "discharge cancelled")
    return Applied(case.id, events)


HANDLERS: dict[str, Callable[[Feed, AdtMessage, Patient], Applied]] = {
    "A01": _admit,
    "A02": _transfer,
    "A03": _discharge,
    "A08": _update,
    "A11": _cancel_admit,
    "A12": _cancel_transfer,
    "A13": _cancel_discharge,
    "A40": merge,
}


# -- pieces -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    site: str
    ward: str
    bed: str | None


def _required_place(feed: Feed, msg: AdtMessage) -> Place:
    place = _place(feed, msg)
    if place is None:
        raise MessageRefused("no_location", "PV1-3 (assigned location) is empty.", hl7_code="101")
    return place


def _place(feed: Feed, msg: AdtMessage) -> Place | None:
    loc = msg.location
    if loc is None:
        return None
    site = feed.interface.sites.get(loc.facility)
    if site is None:
        raise MessageRefused(
            "unknown_location",
            f"Location facility {loc.facility!r} (PV1-3.4) is not configured for interface "
            f"{feed.interface.key} (adt-interfaces.yaml, sites).",
            hl7_code="103",
        )
    return Place(site, feed.interface.wards.get(loc.ward, loc.ward), loc.bed_label)


def _destination(feed: Feed, msg: AdtMessage) -> str:
    if not msg.disposition:
        raise MessageRefused(
            "no_discharge_destination", "PV1-36 (discharge disposition) is empty.", hl7_code="101"
        )
    return feed.interface.discharge_destinations.get(msg.disposition, msg.disposition)


def _inpatient_case(feed: Feed, msg: AdtMessage, patient: Patient, *, located: bool = True) -> Case:
    """The patient's open inpatient spell; for a message that sets the location (`located`),
    refused when it is older than the location the spell already has."""
    case = feed.repo.latest_case(feed.interface.organisation, patient.nhs_number, INPATIENT)
    if case is None:
        raise _no_spell(msg)
    if located:
        _check_order(feed, msg, case)
    return case


def _no_spell(msg: AdtMessage) -> MessageRefused:
    return MessageRefused(
        "no_open_spell",
        f"{msg.message_type}: the patient has no open hospital spell in HomeFirst (was the "
        "admission, A01, received?).",
        hl7_code="204",
    )


def _check_order(feed: Feed, msg: AdtMessage, case: Case) -> None:
    """Never put a patient back where they were: a location (A01 update, A02, A08, A12) older
    than the newest location already applied to the case is refused and reported, never
    applied silently. Other messages need no such check: the pathway's states refuse what no
    longer fits (a transfer after the discharge finds no open spell)."""
    if msg.event_at is None:
        return
    last = feed.repo.last_location_at(case.id)
    if last is not None and msg.event_at < last[0]:
        raise MessageRefused(
            "out_of_order",
            f"A later location ({last[1]}, event time {last[0]:%Y-%m-%d %H:%M} UTC) was already "
            f"applied to case {case.id}; this older one was not, as it would put the patient "
            "back where they were. Check the ward and dismiss it.",
            hl7_code="207",
            case_id=case.id,
        )


def _move(feed: Feed, msg: AdtMessage, case: Case, place: Place, why: str) -> list[str]:
    attrs = case.attributes
    if attrs.get("ward") == place.ward and attrs.get("bed") == place.bed:
        return []
    data: dict[str, Any] = {"ward": place.ward}
    if place.bed:
        data["bed"] = place.bed
    feed.fire(case, "ward_transfer", data, msg.event_at, feed.reason(msg, why))
    return ["ward_transfer"]


def _bring_up_to_date(
    feed: Feed,
    msg: AdtMessage,
    case: Case,
    patient: Patient,
    place: Place | None,
    *,
    admitting: bool,
) -> Applied:
    events = _move(feed, msg, case, place, "updated") if place else []
    changes: dict[str, Any] = {}
    if patient.local_number and case.attributes.get("hospital_number") != patient.local_number:
        changes["hospital_number"] = patient.local_number
    edd = msg.expected_discharge.isoformat() if msg.expected_discharge else None
    if edd and case.attributes.get("expected_discharge_date") != edd:
        changes["expected_discharge_date"] = edd
    born = msg.date_of_birth.isoformat() if msg.date_of_birth else None
    if born and case.attributes.get("date_of_birth") != born:
        changes["date_of_birth"] = born
    if changes:
        feed.fire(case, "update_details", changes, msg.event_at, feed.reason(msg, "updated"))
        events.append("update_details")
    note = None if events else "nothing changed"
    if admitting and not events:
        note = f"already admitted (case {case.id}); nothing changed"
    return Applied(case.id, events, note)
