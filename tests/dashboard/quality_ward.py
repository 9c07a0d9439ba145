"""A hand-built set of patients for the data-quality measures (issue 19, item 4).

November 2026, when London is on GMT (London dates are UTC dates). Every entry is written
through the transition entry point with the server time it was recorded at (`recorded`), so
how late each one was is known exactly. Two wards; the day under test is Friday 20 November.

- P1, admitted 15th on Ward 1: not meeting 17th 10:00 (recorded 10:05); delay opened 17th 12:00.
- P2, 16th, Ward 1: not meeting 18th 10:00, recorded 20th 09:00 (47 h late); no delay reason.
- P3, 19th 08:00, Ward 1: no criteria-to-reside entry.
- P4, 20th 08:00, Ward 1: no entry; under one night on the 20th.
- P5, 10th, Ward 2: not meeting 12th 10:00; meets again 14th 10:00; not meeting 16th 09:00
  recorded 20th 11:00 (98 h late); delay opened 20th 12:00.
- P6, 10th, Ward 2: not meeting 13th; meets again 15th; not meeting 19th 10:00; delay opened
  19th 11:00; moved to Ward 1 20th 14:00; meets again 20th 15:00 (recorded 15:05: closes it).
- P7, 10th, Ward 2: not meeting 12th 10:00; meets again 19th 10:00; then not meeting 14th 10:00
  recorded 19th 11:00 (121 h late, before "meets again" in clinical time); delay opened 19th
  12:00.
- P8, 10th, Ward 2: not meeting 12th 10:00; discharged 19th 14:00.
- P9, 18th, Ward 1: no entry; the case itself was recorded on the 21st.
- X1, 15th, Ward 1, another organisation: no entry.

Entries recorded on time are recorded the minute they happen unless a time is given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.auth.service import add_user
from app.cases.transition import CaseWriter
from app.engine.engine import Command, OpenCommand

WHY = "entered from the ward's paper record"
NHS = {
    "P1": "9990000018",
    "P2": "9990000026",
    "P3": "9990000034",
    "P4": "9990000042",
    "P5": "9990000050",
    "P6": "9990000069",
    "P7": "9990000077",
    "P8": "9990000085",
    "P9": "9990000093",
    "X1": "9990000107",
}
ROLES = ["discharge_team", "ward_clinician"]


def at(text: str) -> datetime:
    """'20 09:00' -> 2026-11-20T09:00Z."""
    day, clock = text.split()
    return datetime.fromisoformat(f"2026-11-{int(day):02d}T{clock}:00+00:00")


@dataclass
class Built:
    site: str
    organisation: str
    ids: dict[str, int]


def _actor(sessions: sessionmaker[Session], organisation: str) -> Actor:
    name = f"dq_{uuid.uuid4().hex[:8]}"
    with sessions() as session:
        user = add_user(
            session, username=name, display_name=name, organisation=organisation, roles=ROLES
        )
    return Actor(user.id, name, organisation, frozenset(ROLES))


def build(
    sessions: sessionmaker[Session], writer: CaseWriter, organisation: str, other: str
) -> Built:
    site = f"DQ-{uuid.uuid4().hex[:6].upper()}"
    ids: dict[str, int] = {}
    actors = {organisation: _actor(sessions, organisation), other: _actor(sessions, other)}

    def admit(
        name: str, admitted: str, ward: str, recorded: str | None = None, org: str = ""
    ) -> None:
        actor = actors[org or organisation]
        when = at(admitted)
        data = {"hospital_system": "LUHFT", "ward": ward, "admitted_at": when.isoformat()}
        cmd = OpenCommand("discharge", actor, actor.organisation, site, NHS[name], data, when, WHY)
        with sessions() as session:
            case = writer.open(session, cmd, now=at(recorded) if recorded else when)
            session.commit()
            ids[name] = case.id

    def fire(
        name: str, event: str, clinical: str, recorded: str | None = None, **data: Any
    ) -> None:
        actor = actors[organisation]
        when = at(clinical)
        now = at(recorded) if recorded else when + timedelta(minutes=1)
        with sessions() as session:
            writer.fire(session, ids[name], Command(event, actor, data, when, WHY), now=now)
            session.commit()

    admit("P1", "15 09:00", "Ward 1")
    fire("P1", "not_meeting_ctr", "17 10:00", "17 10:05")
    fire("P1", "open_delay", "17 12:00", delay_code="hospital-medical-review", support_area="other")

    admit("P2", "16 09:00", "Ward 1")
    fire("P2", "not_meeting_ctr", "18 10:00", "20 09:00")

    admit("P3", "19 08:00", "Ward 1")
    admit("P4", "20 08:00", "Ward 1")

    admit("P5", "10 09:00", "Ward 2")
    fire("P5", "not_meeting_ctr", "12 10:00")
    fire("P5", "meets_ctr_again", "14 10:00")
    fire("P5", "not_meeting_ctr", "16 09:00", "20 11:00")
    fire("P5", "open_delay", "20 12:00", delay_code="hospital-medical-review", support_area="other")

    admit("P6", "10 09:00", "Ward 2")
    fire("P6", "not_meeting_ctr", "13 10:00")
    fire("P6", "meets_ctr_again", "15 10:00")
    fire("P6", "not_meeting_ctr", "19 10:00")
    fire("P6", "open_delay", "19 11:00", delay_code="hospital-medical-review", support_area="other")
    fire("P6", "ward_transfer", "20 14:00", ward="Ward 1")
    fire("P6", "meets_ctr_again", "20 15:00", "20 15:05")

    admit("P7", "10 09:00", "Ward 2")
    fire("P7", "not_meeting_ctr", "12 10:00")
    fire("P7", "meets_ctr_again", "19 10:00", "19 10:00")
    fire("P7", "not_meeting_ctr", "14 10:00", "19 11:00")
    fire("P7", "open_delay", "19 12:00", delay_code="hospital-medical-review", support_area="other")

    admit("P8", "10 09:00", "Ward 2")
    fire("P8", "not_meeting_ctr", "12 10:00")
    fire("P8", "discharge", "19 14:00", discharge_pathway="P1", destination_code="19")

    admit("P9", "18 09:00", "Ward 1", recorded="21 10:00")
    admit("X1", "15 09:00", "Ward 1", org=other)
    return Built(site, organisation, ids)
