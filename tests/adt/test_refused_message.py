"""A refused message leaves nothing behind but its dead letter, on both databases.

Applying a message writes as it goes (the local hospital number it carries is remembered before
the case is looked at); when the message is then refused, all of that is rolled back and only
its log row is committed, with the raw message, for a person to resolve. Sent again, it is
answered from the log and writes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.adt import sample
from app.adt.service import AdtService, build_adt_service
from app.cases.transition import CaseWriter
from app.config import Settings
from app.models import Case, CaseEvent
from app.models.adt import APPLIED, REJECTED, AdtMessage, AdtPatientNumber
from app.timeutil import LONDON, utcnow

FIRST = 420_000  # test NHS numbers 999420...: this module's patients only


def _a01(nhs: str, local: str, facility_code: str, control_id: str) -> str:
    at = (utcnow() - timedelta(hours=2)).astimezone(LONDON).strftime("%Y%m%d%H%M%S")
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|{at}||ADT^A01^ADT_A01|{control_id}|P|2.4",
            f"EVN|A01|{at}",
            f"PID|1||{nhs}^^^NHS^NH~{local}^^^RVY^MR||REFUSED^PATIENT||19400101|U",
            "|".join(["PV1", "1", "I", f"W11^^BED 4^{facility_code}", *[""] * 40, at]),
        ]
    )


def _state(sessions: sessionmaker[Session], nhs: str, local: str) -> tuple[int, int, int, int]:
    """(cases of the patient, their events, remembered local numbers, log rows)."""
    with sessions() as s:
        cases = s.scalars(select(Case.id).where(Case.patient_ref == nhs)).all()
        events = s.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id.in_(cases))
        )
        numbers = s.scalar(
            select(func.count())
            .select_from(AdtPatientNumber)
            .where(AdtPatientNumber.local_number == local)
        )
        logged = s.scalar(select(func.count()).select_from(AdtMessage))
    return len(cases), events or 0, numbers or 0, logged or 0


def _receive(adt: AdtService, sessions: sessionmaker[Session], raw: str):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return adt.receive(session, raw, now=utcnow())


def test_a_refused_message_rolls_back_what_it_wrote_and_keeps_its_dead_letter(
    settings: Settings, writer: CaseWriter, sessions: sessionmaker[Session]
) -> None:
    adt = build_adt_service(settings, writer)
    nhs, other = sample.synthetic_nhs_numbers(FIRST, 2)
    local = "RVY4200001"
    before = _state(sessions, nhs, local)

    # PV1-3.4 names a site the interface does not map: refused after the number was noted.
    raw = _a01(nhs, local, "XX", "REFUSE-1")
    refused = _receive(adt, sessions, raw)
    assert (refused.code, refused.outcome, refused.error_code) == (
        "AE",
        REJECTED,
        "unknown_location",
    )
    assert "MSA|AE|REFUSE-1" in refused.ack
    assert _state(sessions, nhs, local) == (0, 0, 0, before[3] + 1)
    with sessions() as s:
        row = s.scalars(select(AdtMessage).where(AdtMessage.control_id == "REFUSE-1")).one()
    assert (row.id, row.outcome, row.ack_code, row.case_id, row.raw) == (
        refused.message_id,
        REJECTED,
        "AE",
        None,
        raw,
    )

    # Sent again: the first answer again, nothing written.
    again = _receive(adt, sessions, raw)
    assert (again.code, again.error_code, again.duplicate, again.message_id) == (
        "AE",
        "unknown_location",
        True,
        refused.message_id,
    )
    assert _state(sessions, nhs, local) == (0, 0, 0, before[3] + 1)

    # The same patient from a mapped site: applied, the number remembered this time.
    applied = _receive(adt, sessions, _a01(nhs, local, "SDGH", "REFUSE-2"))
    assert (applied.code, applied.outcome) == ("AA", APPLIED)
    assert _state(sessions, nhs, local) == (1, 1, 1, before[3] + 2)
    # Another patient's refusal does not touch this one's rows.
    assert _receive(adt, sessions, _a01(other, "RVY4200002", "XX", "REFUSE-3")).code == "AE"
    assert _state(sessions, nhs, local) == (1, 1, 1, before[3] + 3)


def test_a_refused_v2_3_message_is_answered_and_its_repeat_too(
    settings: Settings, writer: CaseWriter, sessions: sessionmaker[Session]
) -> None:
    """Building the ERR segment for HL7 2.3 (ERR-1 a CM_ELD) once raised after the dead letter
    was committed: the sender got no ACK, sent again, and never got one."""
    adt = build_adt_service(settings, writer)
    (nhs,) = sample.synthetic_nhs_numbers(FIRST + 100, 1)
    raw = _a01(nhs, "RVY4200101", "SDGH", "V23-1").replace("|RVY|HOMEFIRST", "|XYZ|HOMEFIRST")
    raw = raw.replace("|P|2.4", "|P|2.3")
    first, again = _receive(adt, sessions, raw), _receive(adt, sessions, raw)
    assert (first.code, first.error_code, again.duplicate) == ("AR", "unknown_sender", True)
    assert again.ack.split("\r")[1:] == first.ack.split("\r")[1:]
    assert "\rERR|^^^204&" in first.ack
