"""Claims at scale (issue 7): closed cases leave the claim path, the claim reads use their
indexes, ratings stay current between claims, and migration 0007 upgrades a database with data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.chc import queue
from app.chc.readmodel import ChcWorkItems
from app.chc.repository import ChcRepository, _active_claims, _next_claimable
from app.chc.worklist import refresh, worklist_states
from app.db import UnitOfWork
from app.engine.engine import Engine
from app.migrations_state import alembic_config
from app.models import Case, ChcWorkItem
from tests.chc.helpers import CFG, ChcApi
from tests.conftest import fresh_database_url
from tests.helpers import ago

WHY = "referral received earlier"


def _open(api: ChcApi, days: float, **data: object) -> int:
    return api.open_chc(dict(data), occurred_at=ago(days=days), reason=WHY)


def _item(sessions: sessionmaker[Session], case_id: int) -> tuple[ChcWorkItem, Case]:
    with sessions() as session:
        item = session.get(ChcWorkItem, case_id)
        case = session.get(Case, case_id)
        assert item is not None
        assert case is not None
        session.expunge_all()
    return item, case


def test_closing_a_case_retires_its_work_item_and_frees_the_claim(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    older, newer = _open(api, 50), _open(api, 30)
    assert api.post("/queues/chc/claim").json()["case_id"] == older
    assert _item(sessions, older)[0].retired_at is None
    api.post("/queues/chc/claim", expect=409)  # one live claim per assessor
    api.fire(older, "withdraw", data={"withdrawal_reason": "assessment no longer needed"})

    item, case = _item(sessions, older)
    assert case.is_open is False
    assert item.retired_at == case.updated_at  # retired in the closing transaction
    assert item.claimed_by_id == jo.actor.user_id  # the last claim stays on the record
    # The closed case's claim no longer counts: the next claim is allowed and takes the other.
    assert api.post("/queues/chc/claim").json()["case_id"] == newer
    assert [i["case_id"] for i in api.queue()["items"]] == [newer]
    assert _item(sessions, newer)[0].retired_at is None


def test_the_database_keeps_retired_at_whichever_way_is_open_changes(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    """The trigger follows `cases.is_open` both ways, whatever writes it (here plain SQL)."""
    api = ChcApi(client, make_user("chc_assessor").headers)
    case_id = _open(api, 10)
    api.queue()  # the queue read creates the work item
    stamp = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    cases = Case.__table__
    with sessions() as session:
        session.execute(
            cases.update().where(cases.c.id == case_id).values(is_open=False, updated_at=stamp)
        )
        retired = session.get(ChcWorkItem, case_id)
        assert retired is not None
        assert retired.retired_at == stamp
        session.expunge_all()
        session.execute(cases.update().where(cases.c.id == case_id).values(is_open=True))
        again = session.get(ChcWorkItem, case_id)
        assert again is not None
        assert again.retired_at is None
        session.rollback()


def test_a_whole_list_refresh_retires_items_the_trigger_could_not_see(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    """An item first written by a refresh that read its case open just before it closed (the
    closing transaction's trigger found no item yet) is retired by the next whole-list refresh."""
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    case_id = _open(api, 10)
    api.queue()
    api.fire(case_id, "withdraw", data={"withdrawal_reason": "moved out of area"})
    items = ChcWorkItem.__table__
    with sessions() as session, UnitOfWork(session):
        session.execute(items.update().where(items.c.case_id == case_id).values(retired_at=None))
    with sessions() as session, UnitOfWork(session):
        report = refresh(ChcRepository(session), CFG, organisation=user.org, now=datetime.now(UTC))
    assert report.retired == 1
    item, case = _item(sessions, case_id)
    assert item.retired_at == case.updated_at
    with sessions() as session, UnitOfWork(session):
        again = refresh(ChcRepository(session), CFG, organisation=user.org, now=datetime.now(UTC))
    assert again.retired == 0


@pytest.mark.postgres_only
def test_claim_reads_use_the_partial_indexes(
    backend: str, client: TestClient, make_user, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Whatever the table size, PostgreSQL can answer both claim reads from their indexes: the
    queries imply the indexes' predicates (a rewrite that stopped doing so would scan)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL plans")
    jo = make_user("chc_assessor")
    _open(ChcApi(client, jo.headers), 5)
    now = datetime.now(UTC)
    plans = {}
    with sessions() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        reads = {
            "next_claimable": (
                _next_claimable(),
                {"organisation": jo.org, "states": list(worklist_states(engine)), "now": now},
            ),
            "active_claims": (
                _active_claims(),
                {"organisation": jo.org, "user_id": jo.actor.user_id, "now": now},
            ),
        }
        for name, (stmt, params) in reads.items():
            compiled = stmt.params(**params).compile(
                dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
            )
            rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            plans[name] = "\n".join(r[0] for r in rows)
        session.rollback()
    assert "ix_chc_work_items_queue" in plans["next_claimable"], plans["next_claimable"]
    assert "Sort" not in plans["next_claimable"]  # the index gives the queue order itself
    assert "ix_chc_work_items_live_claims" in plans["active_claims"], plans["active_claims"]


def _claim(sessions: sessionmaker[Session], engine: Engine, user: Any) -> int:
    with sessions() as session:
        return queue.claim_next(
            session, engine=engine, cfg=CFG, actor=user.actor, now=datetime.now(UTC)
        ).case_id


def _bypass_safeguarding(sessions: sessionmaker[Session], case_id: int) -> None:
    """A change of facts written past the transition entry point (as a bulk load might)."""
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.attributes = {**case.attributes, "safeguarding_concern": True}
        session.commit()


def test_each_claim_sees_changes_made_since_the_previous_one(
    client: TestClient,
    make_user,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    """A change of facts re-rates the case in its own transaction (the work-item read model),
    so the next claim sees it without re-rating anything itself."""
    jo = make_user("chc_assessor")
    sam, kim = (make_user("chc_assessor", org=jo.org) for _ in range(2))
    api = ChcApi(client, jo.headers)
    first, second, third = _open(api, 60), _open(api, 50), _open(api, 40)
    assert _claim(sessions, engine, jo) == first
    api.fire(third, "update_details", data={"safeguarding_concern": True})
    assert _item(sessions, third)[0].rag == "red"  # before any claim or read
    assert _claim(sessions, engine, sam) == third  # red: now first in the queue
    assert _claim(sessions, engine, kim) == second


def test_a_change_past_the_entry_point_is_found_by_the_check_and_mended_by_a_rebuild(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    jo = make_user("chc_assessor")
    case_id = _open(ChcApi(client, jo.headers), 45)
    model = ChcWorkItems(CFG)
    now = datetime.now(UTC)
    with sessions() as session:
        assert model.check(session, now=now) == []
    _bypass_safeguarding(sessions, case_id)
    with sessions() as session:
        found = model.check(session, now=now)
    assert any(f"chc case {case_id}: computed_rag is " in d for d in found), found
    with sessions() as session:
        model.rebuild(session, now=now)
        session.commit()
    with sessions() as session:
        assert model.check(session, now=now) == []
    assert _item(sessions, case_id)[0].rag == "red"


# -- migration 0007 on a database with data -----------------------------------------------------
def _alembic(url: str, action: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["skip_logging"] = True
    getattr(command, action)(config, revision)


def _rows_at_0006(url: str) -> None:
    """Two CHC cases with work items, written as revision 0006 has them: one open, one closed
    (claimed, then withdrawn)."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        cases = Table("cases", meta, autoload_with=engine)
        items = Table("chc_work_items", meta, autoload_with=engine)
        at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        closed_at = datetime(2026, 3, 9, 16, 45, tzinfo=UTC)
        with engine.begin() as conn:
            for case_id, is_open in ((9001, True), (9002, False)):
                conn.execute(
                    cases.insert().values(
                        id=case_id,
                        workflow_key="chc",
                        workflow_version=1,
                        state="referred" if is_open else "withdrawn",
                        queue="chc-triage" if is_open else None,
                        is_open=is_open,
                        version=1 if is_open else 2,
                        patient_ref=None,
                        organisation="MIG-0007",
                        site=None,
                        opened_at=at,
                        created_at=at,
                        updated_at=at if is_open else closed_at,
                        closed_at=None if is_open else closed_at,
                        attributes={},
                    )
                )
                conn.execute(
                    items.insert().values(
                        case_id=case_id,
                        organisation="MIG-0007",
                        cohort="new",
                        responsible_body=None,
                        waiting_since=at,
                        computed_rag="green",
                        rule_ids=["green"],
                        reasons=[],
                        ruleset_version="test",
                        rated_at=at,
                        rating_seq=1,
                        rag="green",
                        rag_rank=2,
                        claimed_by_id=None if is_open else 77,
                        claimed_by=None if is_open else "someone",
                        claimed_at=None if is_open else at,
                        claim_expires_at=None if is_open else at + timedelta(hours=4),
                    )
                )
    finally:
        engine.dispose()


def test_migration_0007_retires_work_items_of_cases_already_closed(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh_database_url(backend, tmp_path, request)
    _alembic(url, "upgrade", "0006")
    _rows_at_0006(url)

    _alembic(url, "upgrade", "0007")
    engine = create_engine(url)
    try:
        meta = MetaData()
        items = Table("chc_work_items", meta, autoload_with=engine)
        cases = Table("cases", meta, autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(items.c.case_id, items.c.retired_at, items.c.claimed_by)
                .where(items.c.organisation == "MIG-0007")
                .order_by(items.c.case_id)
            ).all()
            closed_at = conn.execute(select(cases.c.updated_at).where(cases.c.id == 9002)).scalar()
        assert [(r.case_id, r.retired_at is None, r.claimed_by) for r in rows] == [
            (9001, True, None),
            (9002, False, "someone"),
        ]
        assert rows[1].retired_at == closed_at
        indexes = {i["name"] for i in inspect(engine).get_indexes("chc_work_items")}
        assert {"ix_chc_work_items_queue", "ix_chc_work_items_live_claims"} <= indexes
        # From now on the database keeps it: closing the open case retires its item.
        with engine.begin() as conn:
            conn.execute(cases.update().where(cases.c.id == 9001).values(is_open=False))
            retired = conn.execute(
                select(items.c.retired_at).where(items.c.case_id == 9001)
            ).scalar()
        assert retired is not None
    finally:
        engine.dispose()

    _alembic(url, "downgrade", "0006")
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("chc_work_items")}
        assert "retired_at" not in columns
        with engine.begin() as conn:  # the trigger went with the column
            conn.execute(text("UPDATE cases SET is_open = :o WHERE id = 9001"), {"o": True})
            count = conn.execute(text("SELECT count(*) FROM chc_work_items")).scalar()
        assert count == 2
    finally:
        engine.dispose()
    _alembic(url, "upgrade", "0007")
