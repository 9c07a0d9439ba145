"""Today's figures computed ahead: readers get stored figures no older than the maximum age,
the refresher recomputes what is being read, and each organisation has its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.dashboard.live_figures import (
    DAILY,
    Freshness,
    LiveFiguresRepository,
    figures,
    refresh_due,
)
from app.db import UnitOfWork
from app.main import create_app
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api

FRESH = Freshness(max_age=timedelta(seconds=30), refresh=timedelta(seconds=10))


class Counting:
    """A compute function that records each call and returns a numbered payload."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str, datetime]] = []

    def __call__(
        self, _session: Session, organisation: str, site: str | None, part: str, now: datetime
    ) -> dict[str, Any]:
        self.calls.append((organisation, site, part, now))
        return {"n": len(self.calls), "as_at": now.isoformat()}


def _read(session: Session, compute: Counting, now: datetime, org: str = "ORG-A") -> dict:
    return figures(
        session, organisation=org, site=None, part=DAILY, now=now, freshness=FRESH, compute=compute
    )


def test_a_reader_gets_stored_figures_until_they_are_too_old(
    sessions: sessionmaker[Session],
) -> None:
    compute, t0 = Counting(), datetime.now(UTC)
    with sessions() as session:
        assert _read(session, compute, t0)["n"] == 1  # none stored yet: computed and stored
        assert _read(session, compute, t0 + timedelta(seconds=29))["n"] == 1
        assert _read(session, compute, t0 + timedelta(seconds=31))["n"] == 2  # too old
        assert _read(session, compute, t0, org="ORG-B")["n"] == 3  # its own organisation's
        stored = LiveFiguresRepository(session).get("ORG-A", "*", DAILY)
        assert stored is not None
        assert stored.payload["n"] == 2


def test_the_refresher_recomputes_what_is_read_and_leaves_idle_rows(
    sessions: sessionmaker[Session],
) -> None:
    compute, t0 = Counting(), datetime.now(UTC)
    read, idle = f"ORG-READ-{uuid4().hex[:6]}", f"ORG-IDLE-{uuid4().hex[:6]}"
    with sessions() as session:
        _read(session, compute, t0, org=read)
        _read(session, compute, t0 - timedelta(hours=2), org=idle)
    # Not yet a refresh old: nothing to do.
    assert (
        refresh_due(sessions, now=t0 + timedelta(seconds=5), refresh=FRESH.refresh, compute=compute)
        == 0
    )
    done = refresh_due(
        sessions, now=t0 + timedelta(seconds=11), refresh=FRESH.refresh, compute=compute
    )
    refreshed = [c[0] for c in compute.calls[2:]]
    assert read in refreshed
    assert idle not in refreshed  # nobody asked for it within the hour
    assert done == len(refreshed)
    with sessions() as session:
        # The reader now gets the refreshed figures without computing anything.
        n = len(compute.calls)
        assert (
            _read(session, compute, t0 + timedelta(seconds=12), org=read)["n"]
            == refreshed.index(read) + 3
        )
        assert len(compute.calls) == n


def test_a_row_another_refresher_claimed_is_skipped(sessions: sessionmaker[Session]) -> None:
    compute, t0 = Counting(), datetime.now(UTC)
    org = f"ORG-HELD-{uuid4().hex[:6]}"
    with sessions() as session:
        _read(session, compute, t0, org=org)
    later = t0 + timedelta(seconds=11)
    with sessions() as other, UnitOfWork(other):
        assert LiveFiguresRepository(other).claim((org, "*", DAILY), later, FRESH.refresh)
    refresh_due(sessions, now=later, refresh=FRESH.refresh, compute=compute)
    assert [c for c in compute.calls if c[0] == org] == compute.calls[:1]


@pytest.fixture
def cached_client(db_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=300,
        live_figures_refresh_seconds=0,  # no background refresher: the test drives it
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_the_metrics_endpoint_serves_todays_figures_computed_ahead(
    cached_client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user(*TEAM)
    other = make_user(*TEAM)
    api = Api(cached_client, user.headers)

    def today(headers: dict[str, str]) -> dict[str, Any]:
        r = cached_client.get("/api/v1/dashboard/metrics", headers=headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    case = open_case(api, NHS[4], site="AINTREE")
    first = today(user.headers)
    assert first["discharge"]["nctr_remaining"] == 0
    fire(api, case["id"], "accept")
    fire(api, case["id"], "not_meeting_ctr")
    # Within the maximum age the stored figures are served, with the instant they are as at.
    again = today(user.headers)
    assert again == first
    # Once the refresher has run, the change shows.
    app = cached_client.app
    refreshed = refresh_due(
        sessions,
        now=datetime.now(UTC) + timedelta(seconds=1),
        refresh=timedelta(0),
        compute=app.state.live.compute,  # type: ignore[attr-defined]
    )
    assert refreshed >= 1
    after = today(user.headers)
    assert after["discharge"]["nctr_remaining"] == 1
    assert after["snapshot_at"] > first["snapshot_at"]
    # Another organisation never gets these figures.
    assert today(other.headers)["discharge"]["nctr_remaining"] == 0
