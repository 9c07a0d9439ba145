"""Daily snapshots: a finished day's figures are stored once and served from then on.

`metrics_for` computes today live. For a day that is over it returns the stored snapshot, or
computes and stores it on first request (the row is append-only: a later backdated correction
never changes a day already reported). Figures are per organisation, because each covers the
cases that organisation may see. `take_snapshots` stores every organisation's and site's figures
for a day; `homefirst metrics snapshot` and the service's scheduler call it for yesterday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.repository import DashboardRepository
from app.db import UnitOfWork
from app.discharge.metrics import snapshot_time
from app.models.snapshot import ALL_SITES, MetricSnapshot
from app.timeutil import london_date

Compute = Callable[..., dict[str, Any]]


def metrics_for(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    compute: Compute,
) -> dict[str, Any]:
    def fresh() -> dict[str, Any]:
        return compute(session, day=day, site=site, organisation=organisation, now=now, ctx=ctx)

    if snapshot_time(day, now) >= now:  # the day is still running: live figures, not stored
        return fresh()
    repo = DashboardRepository(session)
    key = site or ALL_SITES
    stored = repo.snapshot(day, key, organisation)
    if stored is None:
        stored = _store(session, repo, day, key, organisation, fresh(), now)
    session.rollback()  # end the read; nothing else to do in this transaction
    return {**stored.payload, "stored_at": stored.computed_at.isoformat()}


def take_snapshots(
    session: Session, *, day: date, now: datetime, ctx: MetricsContext, compute: Compute
) -> int:
    """Store the day's figures for each organisation, every site and all sites; returns how
    many rows were new."""
    repo = DashboardRepository(session)
    new = 0
    for organisation in repo.discharge_organisations():
        for site in [None, *repo.discharge_sites(organisation)]:
            if repo.snapshot(day, site or ALL_SITES, organisation) is None:
                metrics_for(
                    session,
                    day=day,
                    site=site,
                    organisation=organisation,
                    now=now,
                    ctx=ctx,
                    compute=compute,
                )
                new += 1
    return new


def yesterday(now: datetime) -> date:
    return london_date(now) - timedelta(days=1)


def _store(
    session: Session,
    repo: DashboardRepository,
    day: date,
    site: str,
    organisation: str,
    figures: dict[str, Any],
    now: datetime,
) -> MetricSnapshot:
    row = MetricSnapshot(
        day=day,
        site=site,
        organisation=organisation,
        snapshot_at=snapshot_time(day, now),
        computed_at=now,
        payload=figures,
    )
    try:
        with UnitOfWork(session):
            repo.add_snapshot(row)
    except IntegrityError:
        # Another process stored this day first: serve its figures, the one true record.
        found = repo.snapshot(day, site, organisation)
        assert found is not None  # noqa: S101 - the unique key just told us it exists
        return found
    return row
