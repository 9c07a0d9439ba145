"""Today's figures come from the discharge spell projection; they must equal the plain
derivation over the raw events exactly, whatever journeys the cases took."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.cases import service
from app.cases.schemas import CaseCreate, EventCreate
from app.cases.sharing import ShareCreate, share_case
from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.dashboard.context import MetricsContext, metrics_context
from app.dashboard.service import check_live_figures, compute_metrics, plain_discharge
from app.db import UnitOfWork
from app.discharge.projection import rebuild_with, rederive
from app.discharge.service import RfdFilter, rfd_list
from app.engine.engine import Command, Engine
from app.models import CaseEvent
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.timeutil import LONDON
from tests.helpers import writer_for
from tests.journeys import WARDS, Maker, nhs_number, walk

TTL = timedelta(hours=1)
SITES = ("AINTREE", "SOUTHPORT", "ORMSKIRK")
SYSTEMS = ("LUHFT", "S&O")
# The discharge events that matter to the figures are picked more often than the rest.
WEIGHTS = {
    "not_meeting_ctr": 6,
    "meets_ctr_again": 2,
    "open_delay": 6,
    "end_delay": 3,
    "set_primary_delay": 2,
    "raise_escalation": 2,
    "clear_escalation": 1,
    "discharge": 3,
    "died": 0.3,
    "transfer": 0.3,
    "cancel": 0.3,
    "update_details": 1,
    "ward_transfer": 2,
    # Actions touch no figure: walked now and then (tests/actions has their own journeys).
    "add_action": 0.2,
    "update_action": 0.1,
    "complete_action": 0.1,
    "explain_late_action": 0.05,
    "cancel_action": 0.05,
    "referral_update": 0,  # only a referral records it (app/referrals)
}


def _journeys(
    session: Session,
    engine: Engine,
    actor: Actor,
    codes: CodeSetRegistry,
    rng: random.Random,
    *,
    cases: int,
    now: datetime,
) -> tuple[list[int], int]:
    spec = engine.catalogue.latest("discharge")
    assert spec is not None
    maker = Maker(spec.spec, codes, rng)
    ids, accepted = [], 0
    for _ in range(cases):
        admitted = now - timedelta(days=rng.uniform(0.2, 25))
        created = service.create_case(
            session,
            writer=writer_for(engine),
            actor=actor,
            body=CaseCreate(
                workflow="discharge",
                site=rng.choice(SITES),
                patient_ref=nhs_number(rng),
                data={
                    "hospital_system": rng.choice(SYSTEMS),
                    "ward": "Ward 7",
                    "admitted_at": admitted.isoformat(),
                },
                occurred_at=admitted + timedelta(hours=1),
                reason="generated",
            ),
            idempotency_key=None,
            now=now,
            ttl=TTL,
        )
        ids.append(created.body["id"])
        # Clinical times run forward from admission to now, with the last steps often today.
        times = sorted(
            admitted + (now - admitted) * rng.uniform(0.05, 0.999)
            for _ in range(rng.randint(0, 12))
        )
        # Some entries are recorded late, behind one already there (backdated: the projection
        # must then go back to the events).
        for i in range(1, len(times)):
            if rng.random() < 0.2:
                times[i - 1], times[i] = times[i], times[i - 1]
        accepted += walk(
            session,
            engine,
            actor,
            maker,
            rng,
            case_id=created.body["id"],
            times=times,
            weights=WEIGHTS,
            now=now,
        )
    return ids, accepted


def _admitted(
    session: Session, engine: Engine, actor: Actor, now: datetime, *, days_ago: int
) -> int:
    """A discharge case for a patient admitted `days_ago` days ago; its id."""
    created = service.create_case(
        session,
        writer=writer_for(engine),
        actor=actor,
        body=CaseCreate(
            workflow="discharge",
            site="AINTREE",
            patient_ref="9990000018",
            data={
                "hospital_system": "LUHFT",
                "ward": "W1",
                "admitted_at": (now - timedelta(days=days_ago)).isoformat(),
            },
        ),
        idempotency_key=None,
        now=now,
        ttl=TTL,
    )
    return int(created.body["id"])


def _projection(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    spells = session.execute(select(DischargeSpell).order_by(DischargeSpell.case_id)).scalars()
    periods = session.execute(
        select(DischargeDelayPeriod).order_by(
            DischargeDelayPeriod.case_id, DischargeDelayPeriod.ordinal
        )
    ).scalars()
    out = (
        [_row(s, DischargeSpell) for s in spells],
        [_row(p, DischargeDelayPeriod) for p in periods],
    )
    session.rollback()
    return out


def _row(obj: Any, model: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, c.key) for c in model.__table__.columns)


@pytest.fixture
def ctx(settings: Settings, codes: CodeSetRegistry) -> MetricsContext:
    return metrics_context(settings, codes)


def test_live_figures_equal_the_plain_derivation_over_generated_journeys(
    sessions: sessionmaker[Session],
    engine: Engine,
    codes: CodeSetRegistry,
    ctx: MetricsContext,
    make_user,
) -> None:
    rng = random.Random(20261123)  # fixed seed: a failure is reproducible
    team = make_user("discharge_team", "ward_clinician", "huddle_chair", "mh_liaison")
    hub = make_user("discharge_team")
    now = datetime.now(UTC)
    with sessions() as session:
        ids, accepted = _journeys(session, engine, team.actor, codes, rng, cases=45, now=now)
        for case_id in ids[::4]:  # the care transfer hub works a quarter of them
            share_case(
                session,
                actor=team.actor,
                case_id=case_id,
                body=ShareCreate(organisation=hub.actor.organisation, reason="hub"),
                now=now,
            )
        at = datetime.now(UTC)
        for org in (team.actor.organisation, hub.actor.organisation):
            for site in (None, *SITES):
                assert (
                    check_live_figures(session, site=site, organisation=org, now=at, ctx=ctx) == []
                )
            # A ward's figures from the projection's ward (the one named last in clinical time,
            # whatever order the transfers were recorded in) equal the derivation's.
            for ward in WARDS:
                assert (
                    check_live_figures(
                        session, site=None, ward=ward, organisation=org, now=at, ctx=ctx
                    )
                    == []
                )
        figures = plain_discharge(
            session,
            day=at.astimezone(LONDON).date(),
            site=None,
            organisation=team.actor.organisation,
            now=at,
            ctx=ctx,
        )
        # The Ready-for-Discharge list reads the projection too, and must say the same.
        lists = {
            source: rfd_list(
                session,
                catalogue=engine.catalogue,
                codes=codes,
                config=ctx.discharge,
                flt=RfdFilter(),
                sort="case_id",
                now=at,
                organisation=team.actor.organisation,
                source=source,
            ).model_dump()
            for source in ("events", "projection")
        }
    assert lists["projection"] == lists["events"]
    rows = lists["events"]["items"]
    assert len(rows) > 3
    assert any(r["delays"] and r["primary_reason"] for r in rows)
    # The journeys reached the states whose figures are being compared.
    assert accepted > 150
    assert figures["nctr_remaining"] > 3
    assert figures["nctr_on_day"] >= figures["nctr_remaining"]
    assert figures["by_primary_reason"]
    assert figures["support_areas"]
    assert figures["discharged"] + sum(r["inpatients"] for r in figures["by_site"]) > 10
    assert figures["escalated"] > 0
    # The journeys moved patients between wards, some transfers recorded late.
    wards = [r["ward"] for r in rows]
    assert len(set(wards)) > 1


def test_a_rebuild_from_the_events_gives_the_rows_the_transitions_kept(
    sessions: sessionmaker[Session], engine: Engine, codes: CodeSetRegistry, make_user
) -> None:
    rng = random.Random(7)
    team = make_user("discharge_team", "ward_clinician", "huddle_chair", "mh_liaison")
    with sessions() as session:
        _journeys(session, engine, team.actor, codes, rng, cases=25, now=datetime.now(UTC))
        kept = _projection(session)
        with UnitOfWork(session):
            written = rebuild_with(session, codes)
        assert written == len(kept[0]) >= 25  # the database may hold earlier tests' cases
        assert _projection(session) == kept
        assert kept[1], "the journeys opened delay periods"
        # Deriving some cases again (after writes that bypassed the service) changes nothing.
        some = [row[0] for row in kept[0][::3]]
        with UnitOfWork(session):
            assert rederive(session, some) == len(some)
        assert _projection(session) == kept


def test_todays_figures_use_the_projection_and_see_each_accepted_change(
    sessions: sessionmaker[Session],
    engine: Engine,
    codes: CodeSetRegistry,
    ctx: MetricsContext,
    make_user,
) -> None:
    team = make_user("discharge_team", "ward_clinician")
    org = team.actor.organisation
    now = datetime.now(UTC)
    with sessions() as session:
        case_id = _admitted(session, engine, team.actor, now, days_ago=3)

        def figures() -> dict[str, Any]:
            day = datetime.now(UTC).astimezone(LONDON).date()
            out = compute_metrics(
                session, day=day, site=None, organisation=org, now=datetime.now(UTC), ctx=ctx
            )
            session.rollback()
            return dict(out["discharge"])

        assert figures()["nctr_remaining"] == 0
        service.fire_event(
            session,
            writer=writer_for(engine),
            actor=team.actor,
            case_id=case_id,
            body=EventCreate(event="not_meeting_ctr", data={}),
            if_match='"1"',
            idempotency_key=None,
            now=datetime.now(UTC),
            ttl=TTL,
        )
        assert figures()["nctr_remaining"] == 1
        spell = session.get(DischargeSpell, case_id)
        assert spell is not None
        assert spell.nctr_last_start is not None
        assert spell.nctr_last_end is None
        session.rollback()


def test_a_transition_that_rolls_back_leaves_the_projection_as_it_was(
    sessions: sessionmaker[Session], engine: Engine, codes: CodeSetRegistry, make_user
) -> None:
    team = make_user("discharge_team", "ward_clinician")
    now = datetime.now(UTC)
    with sessions() as session:
        case_id = _admitted(session, engine, team.actor, now, days_ago=2)
        before = _projection(session)

        class Boom(Exception):
            pass

        def fire_then_fail() -> None:
            with UnitOfWork(session):
                writer_for(engine).fire(
                    session, case_id, Command("not_meeting_ctr", team.actor, {}), now=now
                )
                session.flush()
                raise Boom

        with pytest.raises(Boom):
            fire_then_fail()
        assert _projection(session) == before
        assert (
            session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id))
            .scalars()
            .all()[-1]
            .event
            == "open"
        )
