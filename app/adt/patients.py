"""Who a message is about: the NHS number from PID-3 (Modulus 11 checked), else the NHS number
an earlier message gave with the same local hospital number; and A40 merges of local numbers."""

from __future__ import annotations

from dataclasses import dataclass

from app.adt.feed import INPATIENT, Applied, Feed
from app.adt.message import AdtMessage, Identifier, MessageRefused
from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number


@dataclass(frozen=True)
class Patient:
    nhs_number: str
    local_number: str | None


def identify(feed: Feed, msg: AdtMessage) -> Patient:
    nhs, local = _numbers(feed, msg.identifiers)
    if nhs is not None and local is not None:
        feed.repo.remember_number(feed.interface.key, local, nhs, feed.now)
    if nhs is None and local is not None:
        nhs = feed.repo.nhs_number_for(feed.interface.key, local)
    if nhs is None:
        raise MessageRefused(
            "patient_not_identified",
            "PID-3 has no NHS number, and no earlier message gave one with its local number: "
            "HomeFirst keeps discharge cases by NHS number.",
            hl7_code="204",
        )
    return Patient(nhs, local)


def merge(feed: Feed, msg: AdtMessage, patient: Patient) -> Applied:
    """A40: the merged-away patient's local numbers (MRG-1) lead to the surviving patient. A
    merge of two different NHS numbers is not applied: it joins two people's records, which a
    person must check (it stays as a dead letter)."""
    prior_nhs, prior_local = _numbers(feed, msg.merged)
    if prior_nhs is not None and prior_nhs != patient.nhs_number:
        raise MessageRefused(
            "merge_needs_review",
            "The merge joins two different NHS numbers; HomeFirst does not merge them by "
            "itself. A person checks both patients' cases and resolves this message.",
            hl7_code="207",
        )
    prior = [i.value for i in msg.merged if i.kind in feed.interface.local_number_types]
    if prior_local is None or patient.local_number is None:
        raise MessageRefused(
            "merge_without_numbers",
            "A40 needs the surviving local number in PID-3 and the merged one in MRG-1.",
            hl7_code="101",
        )
    feed.repo.merge_numbers(
        feed.interface.key, prior, patient.local_number, patient.nhs_number, feed.now
    )
    case = feed.repo.latest_case(feed.interface.organisation, patient.nhs_number, INPATIENT)
    if case is None or case.attributes.get("hospital_number") not in prior:
        return Applied(case.id if case else None, [], "local numbers merged")
    feed.fire(
        case,
        "update_details",
        {"hospital_number": patient.local_number},
        msg.event_at,
        feed.reason(msg, "patients merged"),
    )
    return Applied(case.id, ["update_details"])


def _numbers(feed: Feed, identifiers: tuple[Identifier, ...]) -> tuple[str | None, str | None]:
    """(NHS number, local number) among PID-3's (or MRG-1's) identifiers."""
    interface = feed.interface
    nhs: str | None = None
    local: str | None = None
    for ident in identifiers:
        if ident.kind == "NH" or ident.authority in interface.nhs_number_authorities:
            number = normalise_nhs_number(ident.value)
            if not is_valid_nhs_number(number):
                raise MessageRefused(
                    "invalid_nhs_number",
                    "The NHS number in PID-3 fails the Modulus 11 check.",
                    hl7_code="102",
                )
            nhs = nhs or number
        elif ident.kind in interface.local_number_types and local is None:
            local = ident.value[:32]
    return nhs, local
