"""Daily snapshots: a finished day's figures are stored once and served from then on.

`metrics_for` computes today live. For a day that is over it returns the stored snapshot, or
computes and stores it on first request (the row is append-only: a later backdated correction
never changes a day already reported). `take_snapshots` stores every site's figures for a day;
`homefirst metrics snapshot` and the service's scheduler call it for yesterday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calc.drd import london_date
from app.dashboard.context import MetricsContext
from app.dashboard.discharge_metrics import snapshot_time
from app.dashboard.repository import DashboardRepository
from app.db import UnitOfWork
from app.models.snapshot import ALL_SITES, MetricSnapshot

Compute = Callable[..., dict[str, Any]]


def metrics_for(
    session: Session,
    *,
    day: date,
    site: str | None,
    now: datetime,
    ctx: MetricsContext,
    compute: Compute,
) -> dict[str, Any]:
    snapshot_at = snapshot_time(day, now)
    if snapshot_at >= now:  # the day is still running: live figures, not stored
        return compute(session, day=day, site=site, now=now, ctx=ctx)
    repo = DashboardRepository(session)
    key = site or ALL_SITES
    stored = repo.snapshot(day, key)
    if stored is None:
        figures = compute(session, day=day, site=site, now=now, ctx=ctx)
        stored = _store(session, repo, day, key, figures, now)
    session.rollback()  # end the read; nothing else to do in this transaction
    return {**stored.payload, "stored_at": stored.computed_at.isoformat()}


def take_snapshots(
    session: Session,
    *,
    day: date,
    now: datetime,
    ctx: MetricsContext,
    compute: Compute,
) -> int:
    """Store the day's figures for every site and for all sites; returns how many were new."""
    repo = DashboardRepository(session)
    new = 0
    for site in [None, *repo.discharge_sites()]:
        if repo.snapshot(day, site or ALL_SITES) is None:
            metrics_for(session, day=day, site=site, now=now, ctx=ctx, compute=compute)
            new += 1
    return new


def yesterday(now: datetime) -> date:
    return london_date(now) - timedelta(days=1)


def _store(
    session: Session,
    repo: DashboardRepository,
    day: date,
    site: str,
    figures: dict[str, Any],
    now: datetime,
) -> MetricSnapshot:
    row = MetricSnapshot(
        day=day, site=site, snapshot_at=snapshot_time(day, now), computed_at=now, payload=figures
    )
    try:
        with UnitOfWork(session):
            repo.add_snapshot(row)
    except IntegrityError:
        # Another process stored this day first: serve its figures, the one true record.
        found = repo.snapshot(day, site)
        assert found is not None  # noqa: S101 - the unique key just told us it exists
        return found
    return row
