"""`homefirst ic services` from the shell, and the service audit refusing changes."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from app.ic.repository import IcRepository
from app.models import AppendOnlyViolation
from tests.ic.helpers import fresh_site, make_service


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()


def test_services_from_the_command_line(cli_env: CliRunner, client: TestClient, make_user) -> None:
    manager = make_user("manager")
    clerk = make_user("ic_coordinator", org=manager.org)  # services are their organisation's
    site, code = fresh_site(), f"BED-{uuid.uuid4().hex[:6].upper()}"
    args = ["ic", "services", "add", code, "--name", "Chase Heys", "--site", site]
    added = cli_env.invoke(
        cli,
        [*args, "--model", "bed_based_ic", "--capacity", "14", "--user", manager.actor.username],
    )
    assert added.exit_code == 0, added.output
    service_id = int(added.output.split()[2])
    assert added.output.strip() == f"added service {service_id} {code}: 14 beds"
    denied = cli_env.invoke(
        cli,
        [*args, "--model", "bed_based_ic", "--capacity", "1", "--user", clerk.actor.username],
    )
    assert denied.exit_code == 1
    assert "needs one of the roles: admin, manager" in denied.output
    closed = cli_env.invoke(
        cli,
        ["ic", "services", "set", str(service_id), "--capacity", "12", "--closed"]
        + ["--reason", "Ward refurbishment", "--user", manager.actor.username],
    )
    assert closed.exit_code == 0, closed.output
    assert closed.output.strip() == f"service {service_id} {code}: 12 beds, closed"
    listed = cli_env.invoke(cli, ["ic", "services", "list", "--site", site])
    assert listed.exit_code == 0, listed.output
    assert listed.output.split() == [
        str(service_id),
        code,
        site,
        "bed_based_ic",
        "0/12",
        "beds",
        "(closed)",
    ]
    audit = client.get(f"/api/v1/ic/services/{service_id}/changes", headers=clerk.headers)
    assert [(a["action"], a["reason"]) for a in audit.json()] == [
        ("created", None),
        ("updated", "Ward refurbishment"),
    ]
    assert audit.json()[1]["changes"] == {"capacity": [14, 12], "active": [True, False]}


def test_the_service_audit_is_append_only(sessions, client: TestClient, make_user) -> None:
    manager = make_user("manager")
    service = make_service(
        client, manager.headers, site=fresh_site(), model="reablement", capacity=2
    )
    with sessions() as session:
        change = IcRepository(session).changes(service["id"])[0]
        change.reason = "rewritten"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
    with sessions() as session, pytest.raises(DBAPIError):
        session.execute(
            text("UPDATE ic_service_changes SET reason = 'rewritten' WHERE service_id = :id"),
            {"id": service["id"]},
        )
