"""Partner statements: published and frozen; a late entry shows as a restatement beside the
original, which never changes; only managers publish; readers are the publishing organisation
and the responsible one. Both databases."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from app.ledger.statements import restate_all
from app.models import AppendOnlyViolation, LedgerStatement
from app.timeutil import utcnow
from tests.ledger.month import TEST_CONFIG, Ward, get

ROLES = ("discharge_team", "manager")


@pytest.fixture
def configured(client: TestClient) -> Iterator[None]:
    before = client.app.state.ledger_config
    client.app.state.ledger_config = TEST_CONFIG
    yield
    client.app.state.ledger_config = before


def _patient(ward: Ward, name: str, day: int, days: int) -> None:
    """A P1 patient not meeting the criteria from `day` Nov with a P1 capacity delay, discharged
    `days` days later: `days` delayed bed days, the local authority's."""
    ward.admit(name, f"2026-11-{day - 1:02d}T09:00:00Z")
    ward.fire(name, "set_pathway", f"2026-11-{day - 1:02d}T10:00:00Z", pathway="P1")
    ward.fire(name, "not_meeting_ctr", f"2026-11-{day:02d}T10:00:00Z")
    ward.delay(name, "capacity-p1-services", f"2026-11-{day:02d}T11:00:00Z")
    ward.discharge(name, f"2026-11-{day + days:02d}T10:00:00Z", "P1")


def _publish(client: TestClient, headers: dict[str, str], expect: int, **body: str) -> Any:
    r = client.post("/api/v1/ledger/statements", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


def test_published_then_restated_after_a_late_entry(
    client: TestClient, make_user: Any, sessions: sessionmaker[Session], configured: None
) -> None:
    manager = make_user(*ROLES)
    ward = Ward(client, manager.headers, None)
    _patient(ward, "H", 3, 2)  # 3 and 4 Nov at £300

    published = _publish(client, manager.headers, 201, month="2026-11", responsible="LA")
    original = published["as_published"]
    assert original["totals"] == {
        "bed_days": 2.0,
        "cost": 600.0,
        "uncosted_bed_days": 0.0,
        "patients": 1,
    }
    assert original["rows"] == [
        {
            "reason": "capacity-p1-services",
            "label": original["rows"][0]["label"],
            "family": "Capacity",
            "pathway": "P1",
            "tariff": "t-2026",
            "bed_days": 2.0,
            "cost": 600.0,
        }
    ]
    assert original["rows"][0]["label"]  # the code list's wording
    assert [t["version"] for t in original["tariffs"]] == ["t-2026"]
    assert published["restatement"] is None
    assert published["published_by"] == manager.actor.username

    # Published once; a month not over, or an organisation ledger.yaml does not name: refused.
    _publish(client, manager.headers, 409, month="2026-11", responsible="LA")
    _publish(client, manager.headers, 422, month="2099-01", responsible="LA")
    _publish(client, manager.headers, 422, month="2026-11", responsible="NOBODY")
    # Only a manager publishes.
    team = make_user("discharge_team", org=manager.org)
    _publish(client, team.headers, 403, month="2026-10", responsible="LA")

    # A patient recorded late, in November: 21 and 22 Nov at £400.
    _patient(ward, "G", 21, 2)
    (item,) = get(client, manager.headers, "/statements", month="2026-11").json()["items"]
    assert item["as_published"] == original
    restated = item["restatement"]
    assert restated["version"] == 2
    assert restated["figures"]["totals"]["bed_days"] == 4.0
    assert restated["figures"]["totals"]["cost"] == 1400.0
    assert [(r["tariff"], r["bed_days"], r["cost"]) for r in restated["figures"]["rows"]] == [
        ("t-2026", 2.0, 600.0),
        ("t-2026-11", 2.0, 800.0),
    ]
    assert any("totals.cost" in d for d in restated["differences"])

    # Reading again stores nothing new; the original row is as it was.
    again = get(client, manager.headers, "/statements", month="2026-11").json()["items"]
    assert again[0]["restatement"]["version"] == 2
    with sessions() as session:
        rows = session.scalars(
            select(LedgerStatement)
            .where(LedgerStatement.organisation == manager.org)
            .order_by(LedgerStatement.version)
        ).all()
        assert [(r.version, r.payload["totals"]["cost"]) for r in rows] == [(1, 600.0), (2, 1400.0)]
        rows[0].payload = {"changed": True}
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(
                text("DELETE FROM ledger_statements WHERE organisation = :o"), {"o": manager.org}
            )
        session.rollback()

    # The CSV: each version's rows, marked as published or restated.
    r = get(client, manager.headers, "/statements.csv", month="2026-11")
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["figures"], x["version"], x["cost_gbp"]) for x in lines] == [
        ("as_published", "1", "600.0"),
        ("restated", "2", "600.0"),
        ("restated", "2", "800.0"),
    ]


def test_who_reads_a_statement(client: TestClient, make_user: Any, configured: None) -> None:
    manager = make_user(*ROLES)
    ward = Ward(client, manager.headers, None)
    _patient(ward, "H", 3, 2)
    _publish(client, manager.headers, 201, month="2026-11", responsible="COMM")
    # The responsible organisation (its code in ledger.yaml is its organisation code) reads it.
    partner = make_user("manager", org="COMM")
    mine = [
        i
        for i in get(client, partner.headers, "/statements", month="2026-11").json()["items"]
        if i["organisation"] == manager.org
    ]
    assert [i["as_published"]["totals"]["bed_days"] for i in mine] == [0.0]  # all LA's days
    # Anyone else reads nothing of it.
    stranger = make_user("manager")
    body = get(client, stranger.headers, "/statements").json()
    assert body == {"count": 0, "items": []}


def test_restating_every_statement_at_once(
    client: TestClient, make_user: Any, sessions: sessionmaker[Session], configured: None
) -> None:
    """What `homefirst ledger restate` runs: a statement a late entry changed gets its
    restatement without anyone reading it first; a second run stores nothing."""
    manager = make_user(*ROLES)
    ward = Ward(client, manager.headers, None)
    _patient(ward, "H", 3, 2)
    _publish(client, manager.headers, 201, month="2026-11", responsible="LA")
    _patient(ward, "G", 21, 2)
    ctx = client.app.state.metrics_ctx
    with sessions() as session:
        checked, restated = restate_all(session, now=utcnow(), ctx=ctx, config=TEST_CONFIG)
    assert checked >= 1
    assert restated >= 1
    with sessions() as session:
        versions = session.scalars(
            select(LedgerStatement.version).where(LedgerStatement.organisation == manager.org)
        ).all()
        assert sorted(versions) == [1, 2]
        restate_all(session, now=utcnow(), ctx=ctx, config=TEST_CONFIG)
        again = session.scalars(
            select(LedgerStatement.version).where(LedgerStatement.organisation == manager.org)
        ).all()
        assert sorted(again) == [1, 2]


def test_the_restate_command_runs(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["ledger", "restate"])
    finally:
        get_engine().dispose()
        for cached in (get_settings, get_engine, get_sessionmaker):
            cached.cache_clear()
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ statement\(s\) derived again, \d+ restated\n", result.output)
