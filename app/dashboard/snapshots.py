"""Daily snapshots: a finished day's figures are stored once and served from then on.

`metrics_for` computes today live. For a day that is over it returns the stored snapshot, or
computes and stores it on first request (the row is append-only: a later backdated correction
never changes a day already reported; `app.dashboard.restatements` keeps the figures such a
correction gives beside it). Figures are per organisation, because each covers the cases that
organisation may see. `take_snapshots` stores every organisation's figures for a day: all sites
and wards, each site, and each ward (one ward of one site is stored on first request);
`homefirst metrics snapshot` and the background worker call it for yesterday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.repository import DashboardRepository
from app.dashboard.restatement_repository import RestatementRepository
from app.db import UnitOfWork
from app.discharge.metrics import snapshot_time
from app.models.snapshot import ALL_SITES, ALL_WARDS, MetricRestatement, MetricSnapshot
from app.timeutil import london_date

Compute = Callable[..., dict[str, Any]]
# Several places' figures of a finished day at once: (site, ward) -> figures.
ComputePlaces = Callable[..., dict[Any, dict[str, Any]]]
# Which figures of a restated day a reader gets (app.dashboard.restatements).
Figures = Literal["as_reported", "restated"]


def metrics_for(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    compute: Compute,
    ward: str | None = None,
    figures: Figures = "as_reported",
) -> dict[str, Any]:
    def fresh() -> dict[str, Any]:
        return compute(
            session, day=day, site=site, ward=ward, organisation=organisation, now=now, ctx=ctx
        )

    if snapshot_time(day, now) >= now:  # the day is still running: live figures, not stored
        return fresh()
    repo = DashboardRepository(session)
    key = Place(site, ward).key()
    stored = repo.snapshot(day, key.site, organisation, key.ward)
    if stored is None:
        stored = _store(session, repo, day, key, organisation, fresh(), now)
    restatement = RestatementRepository(session).latest(stored)
    session.rollback()  # end the read; nothing else to do in this transaction
    return with_restatement(stored, restatement, figures)


def take_snapshots(
    session: Session,
    *,
    day: date,
    now: datetime,
    ctx: MetricsContext,
    compute_places: ComputePlaces,
) -> int:
    """Store the day's figures for each organisation: all sites and wards, each site and each
    ward, those not stored yet computed together (one derivation of the organisation's day);
    returns how many rows were new."""
    repo = DashboardRepository(session)
    new = 0
    for organisation in repo.discharge_organisations():
        places: list[tuple[str | None, str | None]] = [
            (site, None) for site in [None, *repo.discharge_sites(organisation)]
        ]
        places += [(None, ward) for ward in repo.discharge_wards(organisation)]
        missing = [
            (site, ward)
            for site, ward in places
            if repo.snapshot(day, site or ALL_SITES, organisation, ward or ALL_WARDS) is None
        ]
        if not missing:
            continue
        computed = compute_places(
            session, day=day, organisation=organisation, places=missing, now=now, ctx=ctx
        )
        for site, ward in missing:
            key = Place(site, ward).key()
            _store(session, repo, day, key, organisation, computed[(site, ward)], now)
            new += 1
        session.rollback()
    return new


def yesterday(now: datetime) -> date:
    return london_date(now) - timedelta(days=1)


class Key(NamedTuple):
    """Where stored figures are of: a site and a ward, each or "*" for all."""

    site: str
    ward: str


class Place(NamedTuple):
    """Where figures are of: a site and a ward (None: all)."""

    site: str | None
    ward: str | None

    def key(self) -> Key:
        return Key(self.site or ALL_SITES, self.ward or ALL_WARDS)

    @classmethod
    def of(cls, stored: MetricSnapshot) -> Place:
        """The place a stored row's figures are of."""
        return cls(
            None if stored.site == ALL_SITES else stored.site,
            None if stored.ward == ALL_WARDS else stored.ward,
        )


def _store(
    session: Session,
    repo: DashboardRepository,
    day: date,
    key: Key,
    organisation: str,
    figures: dict[str, Any],
    now: datetime,
) -> MetricSnapshot:
    row = MetricSnapshot(
        day=day,
        site=key.site,
        ward=key.ward,
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
        found = repo.snapshot(day, key.site, organisation, key.ward)
        assert found is not None  # noqa: S101 - the unique key just told us it exists
        return found
    return row


def with_restatement(
    stored: MetricSnapshot, restatement: MetricRestatement | None, figures: Figures
) -> dict[str, Any]:
    """A stored day as a reader gets it: the figures chosen (`figures`; the originals when the
    day was never restated), which they are, and a restated day's both versions and differences."""
    out: dict[str, Any] = {
        **stored.payload,
        "stored_at": stored.computed_at.isoformat(),
        "figures": "as_reported",
        "restatement": None,
    }
    if restatement is None:
        return out
    out["restatement"] = {
        "computed_at": restatement.computed_at.isoformat(),
        "differences": restatement.differences,
        "as_reported": stored.payload.get("discharge"),
        "restated": restatement.payload.get("discharge"),
    }
    if figures == "restated":
        out["discharge"] = restatement.payload.get("discharge")
        out["figures"] = "restated"
    return out
