"""A reported day never changes: snapshots are stored once, served after, and append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.dashboard.service import compute_metrics
from app.models import MetricSnapshot
from tests.dashboard.known_day import DAY, build
from tests.helpers import Api


def test_a_reported_day_does_not_change_after_a_late_correction(
    client: TestClient, sessions, make_user, codes
) -> None:  # noqa: ANN001
    user = make_user("discharge_team", "ward_clinician", "huddle_chair", "manager")
    site, ids = build(client, user.headers)
    params = {"site": site, "date": DAY}
    first = client.get("/api/v1/dashboard/metrics", params=params, headers=user.headers).json()
    assert first["discharge"]["nctr_remaining"] == 2
    assert "stored_at" in first
    # A backdated correction arrives later: patient F in fact met the criteria again at 20:00
    # on the 29th. Computed afresh, the day would now show one patient remaining...
    Api(client, user.headers).fire(
        ids["F"],
        "meets_ctr_again",
        occurred_at="2026-03-29T20:00:00Z",
        reason="ward round note found later",
    )
    with sessions() as session:
        fresh = compute_metrics(
            session,
            day=date(2026, 3, 29),
            site=site,
            organisation=user.org,
            now=datetime.now(UTC),
            ctx=client.app.state.metrics_ctx,
        )
    assert fresh["discharge"]["nctr_remaining"] == 1
    # ...but the day as reported keeps its figures.
    with sessions() as session:
        rows = session.execute(select(MetricSnapshot).where(MetricSnapshot.site == site)).all()
    assert len(rows) == 1
    again = client.get("/api/v1/dashboard/metrics", params=params, headers=user.headers).json()
    assert again["discharge"] == first["discharge"]
    assert again["stored_at"] == first["stored_at"]
    series = client.get(
        "/api/v1/dashboard/series",
        params={"site": site, "from": "2026-03-27", "to": DAY},
        headers=user.headers,
    ).json()
    assert [
        (i["date"], i["nctr_remaining"], i["discharged"], i["stored"]) for i in series["items"]
    ] == [("2026-03-27", 2, 0, True), ("2026-03-28", 4, 0, True), (DAY, 2, 3, True)]
    bad = client.get(
        "/api/v1/dashboard/series", params={"from": DAY, "to": "2026-01-01"}, headers=user.headers
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "statement", ["UPDATE metric_snapshots SET site = site", "DELETE FROM metric_snapshots"]
)
def test_snapshots_are_append_only_in_the_database(
    client: TestClient, sessions, make_user, statement: str
) -> None:
    user = make_user("manager")
    client.get(
        "/api/v1/dashboard/metrics",
        params={"date": "2026-01-02", "site": "NOWHERE"},
        headers=user.headers,
    )
    with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()


def test_snapshot_command_stores_yesterday(sessions, db_url: str, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from app.cli import cli
    from app.config import get_settings
    from app.db import get_engine, get_sessionmaker

    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["metrics", "snapshot", "--date", "2026-02-01"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("2026-02-01: ")
        again = runner.invoke(cli, ["metrics", "snapshot", "--date", "2026-02-01"])
        assert again.output == "2026-02-01: 0 snapshot(s) stored\n"
        future = runner.invoke(cli, ["metrics", "snapshot", "--date", "2999-01-01"])
        assert future.exit_code != 0
    finally:
        get_engine().dispose()
        for cached in (get_settings, get_engine, get_sessionmaker):
            cached.cache_clear()
