"""A ward day of PAS messages sent over a real socket by an MLLP client the project did not
write (`hl7.client.MLLPClient`) to the listener in its own process: exactly the expected ACKs,
cases, events and message log, on SQLite and PostgreSQL; and the same day again changes
nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hl7.client import MLLPClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.adt.sample import sample_day
from app.adt.sample import synthetic_nhs_numbers as nhs_numbers
from app.models import AdtMessage, Case, CaseEvent
from app.timeutil import LONDON
from tests.adt.listener import msa, running_listener
from tests.adt.orgs import pathways_for, unique_org


def _first() -> int:
    """A block of test NHS numbers no other test of the run uses (one database per backend)."""
    return random.SystemRandom().randrange(100_000, 900_000, 10)


def test_a_ward_day_fills_the_cases(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = _first()
    now = datetime.now(UTC)
    messages = sample_day(now, demo_patient=False, first=first)
    org = unique_org()
    pathways = pathways_for(org, tmp_path)
    with running_listener(db_url, tmp_path / "adt.log", pathways=pathways) as port:
        with MLLPClient("127.0.0.1", port) as client:
            answers = [msa(client.send_message(m)) for m in messages]
        with sessions() as session:
            last_event = session.scalar(select(func.max(CaseEvent.id)))
        # The whole day again, as an interface engine re-sends after an outage: the same
        # answers (the malformed message has no control id to be recognised by: AR again), and
        # nothing written.
        with MLLPClient("127.0.0.1", port) as client:
            assert [msa(client.send_message(m)) for m in messages] == answers
    with sessions() as session:
        assert session.scalar(select(func.max(CaseEvent.id))) == last_event

    day = now.astimezone(LONDON).strftime("%Y%m%d")
    cid = [f"WD{day}{first:06d}{n:04d}" for n in range(1, 16)]
    assert answers == [
        *[("AA", cid[n]) for n in range(12)],  # admissions, moves, discharges, cancels, merge
        ("AA", cid[5]),  # the transfer again: acknowledged again
        ("AR", ""),  # no message control id
        ("AR", cid[13]),  # unknown sending facility
        ("AE", cid[14]),  # the NHS number fails Modulus 11
    ]

    p = nhs_numbers(first, 6)
    edd = {d: (now.astimezone(LONDON) + timedelta(days=d)).date().isoformat() for d in (2, 3)}
    with sessions() as session:
        cases = {
            c.patient_ref: c
            for c in session.scalars(
                select(Case).where(
                    Case.workflow_key == "discharge",
                    Case.organisation == org,
                    Case.patient_ref.in_(p),
                )
            )
        }
        events = {
            ref: [
                (e.event, e.actor_username)
                for e in session.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.seq)
                )
            ]
            for ref, c in cases.items()
        }
        log = {
            m.control_id: (m.outcome, m.ack_code, m.error_code)
            for m in session.scalars(select(AdtMessage).where(AdtMessage.control_id.in_(cid)))
        }
        facts = {
            ref: (
                c.site,
                c.state,
                c.attributes.get("ward"),
                c.attributes.get("bed"),
                c.attributes.get("hospital_number"),
                c.attributes.get("expected_discharge_date"),
            )
            for ref, c in cases.items()
        }

    rvy, rem = "pas-feed-rvy", "pas-feed-rem"
    assert set(cases) == set(p[:5])  # the sixth patient's messages were all refused
    assert facts == {
        p[0]: ("SOUTHPORT", "referred", "Ward 15", "BED 2", f"RVY{first:07d}", edd[3]),
        p[1]: ("SOUTHPORT", "referred", "Ward 14b", "BED 7", f"RVY{first + 1:07d}", edd[2]),
        p[2]: ("ORMSKIRK", "discharged", "Ward 2", "BED 1", f"RVY{first + 2:07d}", None),
        p[3]: ("AINTREE", "cancelled", "Ward 12", "BED 5", f"RVY{first + 3:07d}", None),
        p[4]: ("SOUTHPORT", "referred", "Ward 11", "BED 9", f"RVY{first + 4:07d}", None),
    }
    assert events == {
        p[0]: [("open", rvy), ("ward_transfer", rvy)],
        # The A08 brings the expected discharge date; the A40 the permanent hospital number.
        p[1]: [("open", rvy), ("update_details", rvy), ("update_details", rvy)],
        p[2]: [("open", rvy), ("discharge", rvy)],
        p[3]: [("open", rem), ("cancel", rem)],
        p[4]: [("open", rvy), ("discharge", rvy), ("cancel_discharge", rvy)],
    }
    assert log == {
        **{cid[n]: ("applied", "AA", None) for n in range(12)},
        cid[13]: ("rejected", "AR", "unknown_sender"),
        cid[14]: ("rejected", "AE", "invalid_nhs_number"),
    }
