"""What each kind of message does, and what is refused and why, through the service the
listener and `POST /adt` share (in this process: the socket has its own test)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.adt.service import AdtService, Receipt
from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.models import AdtMessage, Case, CaseEvent
from app.timeutil import utcnow
from tests.adt.messages import adt, hours_ago, patients
from tests.adt.orgs import interfaces_for, unique_org


@dataclass
class Feed:
    service: AdtService
    sessions: sessionmaker[Session]
    org: str

    @property
    def person(self) -> Actor:
        return Actor(0, "coordinator", self.org, frozenset({"discharge_team"}))

    def send(self, raw: str, now: datetime | None = None) -> Receipt:
        with self.sessions() as session:
            return self.service.receive(session, raw, now=now or utcnow())

    def case(self, nhs: str) -> Case:
        with self.sessions() as session:
            return session.scalars(
                select(Case)
                .where(Case.patient_ref == nhs, Case.workflow_key == "discharge")
                .order_by(Case.id.desc())
            ).first()  # type: ignore[return-value]

    def events(self, nhs: str) -> list[tuple[str, str | None]]:
        with self.sessions() as session:
            ids = select(Case.id).where(Case.patient_ref == nhs)
            return [
                (e.event, e.data.get("ward"))
                for e in session.scalars(
                    select(CaseEvent)
                    .where(CaseEvent.case_id.in_(ids))
                    .order_by(CaseEvent.case_id, CaseEvent.seq)
                )
            ]

    def logged(self, receipt: Receipt) -> AdtMessage:
        with self.sessions() as session:
            return session.get_one(AdtMessage, receipt.message_id)


@pytest.fixture
def feed(writer: CaseWriter, sessions: sessionmaker[Session]) -> Feed:
    """The feed as shipped, sending for an organisation of this test's own."""
    org = unique_org()
    return Feed(AdtService(writer, interfaces_for(org)), sessions, org)


def test_a_location_older_than_the_one_applied_is_refused_not_applied(feed: Feed) -> None:
    [nhs] = patients(1)
    assert feed.send(adt("A01", nhs, at=hours_ago(10))).code == "AA"
    assert feed.send(adt("A02", nhs, at=hours_ago(2), location="W15^^B2^SDGH")).code == "AA"
    late = feed.send(adt("A02", nhs, at=hours_ago(5), location="W2^^B9^SDGH"))
    assert (late.code, late.error_code) == ("AE", "out_of_order")
    assert feed.case(nhs).attributes["ward"] == "Ward 15"  # where the newer message put them
    # A discharge is not a location: one sent before a later update still applies.
    out = feed.send(adt("A03", nhs, at=hours_ago(3), disposition="19"))
    assert (out.code, feed.case(nhs).state) == ("AA", "discharged")
    assert [e for e, _ in feed.events(nhs)] == ["open", "ward_transfer", "discharge"]


def test_an_emergency_attendance_opens_no_spell(feed: Feed) -> None:
    [nhs] = patients(1)
    seen = feed.send(adt("A01", nhs, at=hours_ago(2)).replace("PV1|1|I|", "PV1|1|E|"))
    assert (seen.code, seen.outcome) == ("AA", "ignored")
    assert feed.case(nhs) is None


def test_death_is_recorded_from_disposition_79(feed: Feed) -> None:
    [nhs] = patients(1)
    feed.send(adt("A01", nhs, at=hours_ago(10)))
    assert feed.send(adt("A03", nhs, at=hours_ago(1), disposition="79")).code == "AA"
    assert feed.case(nhs).state == "died"


def test_a_destination_that_is_no_uk_core_code_is_an_application_error(feed: Feed) -> None:
    [nhs] = patients(1)
    feed.send(adt("A01", nhs, at=hours_ago(10)))
    refused = feed.send(adt("A03", nhs, at=hours_ago(1), disposition="ZZ"))
    assert (refused.code, refused.error_code) == ("AE", "validation_failed")
    assert feed.case(nhs).state == "referred"  # nothing half-written
    assert [e for e, _ in feed.events(nhs)] == ["open"]


def test_an_admission_for_an_open_spell_brings_it_up_to_date(feed: Feed) -> None:
    [nhs] = patients(1)
    feed.send(adt("A01", nhs, at=hours_ago(10), local="RVY7"))
    again = feed.send(adt("A01", nhs, at=hours_ago(9), local="RVY7", location="W15^^B3^SDGH"))
    assert again.code == "AA"
    assert feed.events(nhs) == [("open", "Ward 11"), ("ward_transfer", "Ward 15")]


def test_the_date_of_birth_in_pid_7_is_kept_on_the_case(feed: Feed) -> None:
    """PID-7 gives the discharge case its `date_of_birth` (which the IC 91-day follow-up uses
    for its 65+ cohort); a later message that corrects it updates the case, one that repeats
    it changes nothing."""
    [nhs] = patients(1)
    assert feed.send(adt("A01", nhs, at=hours_ago(10), born="19400229")).code == "AA"
    assert feed.case(nhs).attributes["date_of_birth"] == "1940-02-29"
    assert feed.send(adt("A08", nhs, at=hours_ago(9), born="19400229")).code == "AA"
    corrected = feed.send(adt("A08", nhs, at=hours_ago(8), born="19410301"))
    assert corrected.code == "AA"
    assert feed.case(nhs).attributes["date_of_birth"] == "1941-03-01"
    assert [e for e, _ in feed.events(nhs)] == ["open", "update_details"]
    refused = feed.send(adt("A08", nhs, at=hours_ago(7), born="19410231"))
    # Like any item that is no date, the message cannot be read: rejected, nothing changed.
    assert (refused.code, refused.error_code) == ("AR", "bad_time")
    assert feed.case(nhs).attributes["date_of_birth"] == "1941-03-01"


def test_a_local_number_alone_finds_the_patient_once_a_message_paired_it(feed: Feed) -> None:
    [nhs] = patients(1)
    local = f"RVY{nhs[-7:]}"
    unknown = feed.send(adt("A02", None, local=local, at=hours_ago(9)))
    assert (unknown.code, unknown.error_code) == ("AE", "patient_not_identified")
    feed.send(adt("A01", nhs, local=local, at=hours_ago(8)))
    moved = feed.send(adt("A02", None, local=local, at=hours_ago(7), location="W2^^B1^ODGH"))
    assert moved.code == "AA"
    case = feed.case(nhs)
    assert (case.attributes["ward"], case.attributes["hospital_number"]) == ("Ward 2", local)


def test_a_merge_of_two_nhs_numbers_waits_for_a_person(feed: Feed) -> None:
    a, b = patients(2)
    feed.send(adt("A01", a, local="RVYA1", at=hours_ago(8)))
    refused = feed.send(
        adt("A40", a, local="RVYA1", at=hours_ago(7), merged=f"{b}^^^NHS^NH~RVYB1^^^RVY^MR")
    )
    assert (refused.code, refused.error_code) == ("AE", "merge_needs_review")
    assert feed.logged(refused).raw.startswith("MSH|")  # kept whole for the person


def test_updates_and_cancels_for_patients_without_a_spell(feed: Feed) -> None:
    [nhs] = patients(1)
    update = feed.send(adt("A08", nhs, at=hours_ago(3)))
    assert (update.code, update.outcome) == ("AA", "ignored")  # the PAS updates everyone
    transfer = feed.send(adt("A02", nhs, at=hours_ago(2)))
    assert (transfer.code, transfer.error_code) == ("AE", "no_open_spell")
    cancel = feed.send(adt("A13", nhs, at=hours_ago(1)))
    assert (cancel.code, cancel.error_code) == ("AE", "no_discharge_to_cancel")


def test_an_unknown_location_names_the_setting_to_fix(feed: Feed) -> None:
    [nhs] = patients(1)
    refused = feed.send(adt("A01", nhs, at=hours_ago(3), location="W1^^B1^NOWHERE"))
    assert (refused.code, refused.error_code) == ("AE", "unknown_location")
    assert "adt-interfaces.yaml" in feed.logged(refused).error_text  # type: ignore[operator]
    assert feed.case(nhs) is None


def test_a_future_event_time_is_refused(feed: Feed) -> None:
    [nhs] = patients(1)
    refused = feed.send(adt("A01", nhs, at=hours_ago(-3)))
    assert (refused.code, refused.error_code) == ("AE", "invalid_time")


def test_retry_applies_a_message_once_what_it_needed_has_arrived(feed: Feed) -> None:
    [nhs] = patients(1)
    early = feed.send(adt("A02", nhs, at=hours_ago(5), location="W15^^B1^SDGH"))
    assert early.error_code == "no_open_spell"
    feed.send(adt("A01", nhs, at=hours_ago(6)))
    with feed.sessions() as session:
        row = feed.service.retry(
            session, early.message_id, organisation=feed.org, by=feed.person, now=utcnow()
        )
    assert (row.outcome, row.ack_code, row.attempts, row.resolved_by) == (
        "applied",
        "AA",
        2,
        "coordinator",
    )
    assert feed.case(nhs).attributes["ward"] == "Ward 15"
    # Another organisation's people cannot reach it.
    with feed.sessions() as session, pytest.raises(Exception, match="not found"):
        feed.service.retry(
            session, early.message_id, organisation="ELSEWHERE", by=feed.person, now=utcnow()
        )


def test_the_same_message_on_two_connections_at_once_is_applied_once(feed: Feed) -> None:
    [nhs] = patients(1)
    raw = adt("A01", nhs, at=hours_ago(2))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: feed.send(raw), range(4)))
    assert {a.code for a in answers} == {"AA"}
    assert sum(not a.duplicate for a in answers) >= 1
    with feed.sessions() as session:
        control_id = raw.split("\r")[0].split("|")[9]
        logged = session.scalar(select(func.count()).where(AdtMessage.control_id == control_id))
        cases = session.scalar(
            select(func.count()).select_from(Case).where(Case.patient_ref == nhs)
        )
    assert (logged, cases) == (1, 1)


def test_a_cancelled_discharge_puts_the_patient_back_on_the_rfd_list_with_their_drd(
    feed: Feed, client: TestClient, make_user: Any
) -> None:
    [nhs] = patients(1)
    feed.send(adt("A01", nhs, at=hours_ago(30)))
    case = feed.case(nhs)
    team = make_user("discharge_team", org=feed.org)
    ready = client.post(
        f"/api/v1/cases/{case.id}/events",
        json={
            "event": "not_meeting_ctr",
            "occurred_at": hours_ago(20).isoformat(),
            "reason": "agreed at the board round",
        },
        headers={**team.headers, "If-Match": case.etag},
    )
    assert ready.status_code == 200, ready.text

    def on_rfd_list() -> dict[str, Any] | None:
        rows = client.get("/api/v1/rfd", headers=team.headers).json()["items"]
        return next((r for r in rows if r["case_id"] == case.id), None)

    before = on_rfd_list()
    assert before is not None
    assert feed.send(adt("A03", nhs, at=hours_ago(2), disposition="19")).code == "AA"
    assert on_rfd_list() is None
    assert feed.send(adt("A13", nhs, at=hours_ago(1))).code == "AA"
    assert feed.case(nhs).state == "ready_for_discharge"
    after = on_rfd_list()
    assert after is not None
    assert after["discharge_ready_date"] == before["discharge_ready_date"]
