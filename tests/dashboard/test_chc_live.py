"""The dashboard's CHC figures (SQL aggregates over what a day can change) equal the full CHC
report's for the same day, over generated journeys."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.cases import service
from app.cases.schemas import CaseCreate
from app.chc.config import chc_config
from app.chc.metrics import chc_metrics, chc_metrics_from_report
from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.engine.engine import Engine
from app.timeutil import LONDON
from tests.chc.helpers import TEAM
from tests.helpers import writer_for
from tests.journeys import TTL, Maker, walk

# Decisions, DSTs and the steps towards them are picked more often than the rest (only `decide`
# counts in the 28-day figures: a negative Checklist is not a referral for full consideration).
WEIGHTS = {
    "allocate": 4,
    "start_screening": 4,
    "record_checklist": 4,
    "screen_out": 1,
    "start_full_assessment": 4,
    "record_dst": 4,
    "decide": 6,
    "accept_fast_track": 1,
    "fast_track": 1,
    "refer_to_panel": 5,
    "record_panel_recommendation": 2,
    "withdraw": 0.1,
    "record_death": 0.05,
    "defer": 0.3,
    "update_details": 0.3,
}
PERSON = {
    "person_name": "Generated Person",
    "date_of_birth": "1940-05-01",
    "postcode": "L20 3AB",
    "setting": "community",
}


def test_chc_day_figures_equal_the_full_report(
    sessions: sessionmaker[Session],
    engine: Engine,
    codes: CodeSetRegistry,
    settings: Settings,
    make_user,
) -> None:
    rng = random.Random(11)
    user = make_user(*TEAM, "analyst")
    cfg = chc_config(settings.pathways_dir / "config")
    loaded = engine.catalogue.latest("chc")
    assert loaded is not None
    maker = Maker(loaded.spec, codes, rng)
    now = datetime.now(UTC)
    accepted = 0
    with sessions() as session:
        for _ in range(40):
            opened = now - timedelta(days=rng.uniform(0.5, 70))
            created = service.create_case(
                session,
                writer=writer_for(engine),
                actor=user.actor,
                body=CaseCreate(
                    workflow="chc",
                    data={**PERSON, "referral_date": opened.astimezone(LONDON).date().isoformat()},
                    occurred_at=opened,
                    reason="generated",
                ),
                idempotency_key=None,
                now=now,
                ttl=TTL,
            )
            times = sorted(
                opened + (now - opened) * rng.uniform(0.05, 0.999)
                for _ in range(rng.randint(0, 14))
            )
            accepted += walk(
                session,
                engine,
                user.actor,
                maker,
                rng,
                case_id=created.body["id"],
                times=times,
                weights=WEIGHTS,
                now=now,
            )
        today = now.astimezone(LONDON).date()
        seen_decisions = seen_overdue = 0
        for back in range(72):
            day = today - timedelta(days=back)
            kwargs = {"engine": engine, "cfg": cfg, "actor": user.actor, "day": day, "now": now}
            expected = chc_metrics_from_report(session, **kwargs)
            session.rollback()
            assert chc_metrics(session, **kwargs) == expected, day
            seen_decisions += expected["decisions"]
            seen_overdue = max(seen_overdue, expected["incomplete_over_28_days"])
    assert accepted > 60
    assert seen_decisions > 0
    assert seen_overdue > 0
    assert expected["backlog_by_rag_and_cohort"]
