"""SQL of the ADT feed: the message log, the local numbers it has learnt, and the discharge case
a patient's messages belong to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import Case
from app.models.adt import APPLIED, REJECTED, AdtMessage, AdtPatientNumber

WORKFLOW = "discharge"
# The messages that say where the patient is.
LOCATING = ("ADT^A01", "ADT^A02", "ADT^A08", "ADT^A12")


class AdtRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- the message log ---------------------------------------------------------------------
    def message(self, sender: str, control_id: str) -> AdtMessage | None:
        return self.session.scalars(
            select(AdtMessage).where(
                AdtMessage.sender == sender, AdtMessage.control_id == control_id
            )
        ).first()

    def message_by_id(
        self, message_id: int, *, organisation: str | None, for_update: bool = False
    ) -> AdtMessage | None:
        stmt = select(AdtMessage).where(AdtMessage.id == message_id)
        if organisation is not None:
            stmt = stmt.where(AdtMessage.organisation == organisation)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add_message(self, row: AdtMessage) -> None:
        """Stage and flush: a repeat of (sender, control id) raises IntegrityError here."""
        self.session.add(row)
        self.session.flush()

    def last_location_at(self, case_id: int) -> tuple[datetime, str] | None:
        """The latest event time (and message control id) of the messages that gave the case a
        location (A01, A02, A08, A12) and were applied."""
        row = self.session.execute(
            select(AdtMessage.event_at, AdtMessage.control_id)
            .where(
                AdtMessage.case_id == case_id,
                AdtMessage.outcome == APPLIED,
                AdtMessage.message_type.in_(LOCATING),
                AdtMessage.event_at.is_not(None),
            )
            .order_by(AdtMessage.event_at.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def dead_letters(
        self, *, organisation: str | None, before_id: int | None, limit: int
    ) -> list[AdtMessage]:
        """Refused messages not yet resolved, newest first (`organisation` None: every one, for
        the command line on the server)."""
        stmt = select(AdtMessage).where(AdtMessage.outcome == REJECTED)
        if organisation is not None:
            stmt = stmt.where(AdtMessage.organisation == organisation)
        if before_id is not None:
            stmt = stmt.where(AdtMessage.id < before_id)
        return list(self.session.scalars(stmt.order_by(AdtMessage.id.desc()).limit(limit)))

    def count_dead_letters(self, organisation: str | None) -> int:
        stmt = select(func.count()).select_from(AdtMessage).where(AdtMessage.outcome == REJECTED)
        if organisation is not None:
            stmt = stmt.where(AdtMessage.organisation == organisation)
        return int(self.session.scalar(stmt) or 0)

    # -- local hospital numbers ----------------------------------------------------------------
    def nhs_number_for(self, interface: str, local_number: str) -> str | None:
        return self.session.scalar(
            select(AdtPatientNumber.nhs_number).where(
                AdtPatientNumber.interface == interface,
                AdtPatientNumber.local_number == local_number,
            )
        )

    def remember_number(
        self, interface: str, local_number: str, nhs_number: str, now: datetime
    ) -> None:
        found = self.session.scalars(
            select(AdtPatientNumber)
            .where(
                AdtPatientNumber.interface == interface,
                AdtPatientNumber.local_number == local_number,
            )
            .with_for_update()
        ).first()
        if found is None:
            self.session.add(
                AdtPatientNumber(
                    interface=interface,
                    local_number=local_number,
                    nhs_number=nhs_number,
                    updated_at=now,
                )
            )
            self.session.flush()
        elif found.nhs_number != nhs_number or found.merged_into is not None:
            found.nhs_number, found.merged_into, found.updated_at = nhs_number, None, now

    def merge_numbers(
        self, interface: str, prior: Iterable[str], survivor: str, nhs_number: str, now: datetime
    ) -> None:
        """The prior local numbers now lead to the survivor's patient (A40)."""
        for number in prior:
            self.remember_number(interface, number, nhs_number, now)
        self.session.execute(
            update(AdtPatientNumber)
            .where(
                AdtPatientNumber.interface == interface,
                AdtPatientNumber.local_number.in_(list(prior)),
            )
            .values(merged_into=survivor, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    # -- the patient's discharge case ----------------------------------------------------------
    def latest_case(self, organisation: str, nhs_number: str, states: Iterable[str]) -> Case | None:
        """The patient's most recent open discharge case in one of `states`."""
        return self.session.scalars(
            select(Case)
            .where(
                Case.workflow_key == WORKFLOW,
                Case.organisation == organisation,
                Case.patient_ref == nhs_number,
                Case.is_open.is_(True),
                Case.state.in_(list(states)),
            )
            .order_by(Case.id.desc())
            .limit(1)
        ).first()
