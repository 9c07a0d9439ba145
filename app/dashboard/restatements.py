"""Restated days (issue 16, item 13): a finished day's stored figures never change, but an entry
recorded later with an earlier clinical time can change what the events say about that day.

The transition that records such an entry marks the day (`app.discharge.restatement_marks`).
`restate`, run by the background worker's sweeper every `restate_interval_seconds` and by
`homefirst metrics restate`, claims the marks, computes the discharge figures of every stored
day from the earliest marked day to yesterday again from the events (of the organisations that
own or share a marked case: no other figures can have changed), and where they differ from the
figures in force (the originals, or the latest restatement) stores a restatement: the new
figures and their differences from the originals. The originals stay; readers choose which they get
(`figures=as_reported|restated`) and are told when a day has been restated.

Only the discharge figures are restated (the national returns' source); a day stored under
older definitions (`definitions` below the current) is not, since its figures would differ for
that reason alone. Intermediate-care figures of a finished day stay as stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.restatement_repository import RestatementRepository
from app.dashboard.service import differences, places_discharge
from app.dashboard.snapshots import Place, yesterday
from app.db import UnitOfWork
from app.discharge.metrics import DEFINITIONS
from app.models.snapshot import MetricRestatement, MetricSnapshot

# How far back a late entry can restate stored days (a year and a month).
MAX_DAYS_BACK = 400


@dataclass(frozen=True)
class Restated:
    marks: int  # marked entries handled
    checked: int  # stored days (of an organisation, site and ward) computed again
    restated: int  # of those, days whose figures changed
    first_day: date | None


def restate(session: Session, *, ctx: MetricsContext, now: datetime) -> Restated:
    """Handle the waiting marks (see the module's docstring), in one transaction."""
    repo = RestatementRepository(session)
    with UnitOfWork(session):
        marks = repo.claim_marks()
        if not marks:
            return Restated(0, 0, 0, None)
        last = yesterday(now)
        horizon = last - timedelta(days=MAX_DAYS_BACK)
        # Each organisation's figures from the earliest day a case it sees was marked.
        seeing = repo.organisations_seeing([m.case_id for m in marks])
        first_by_org: dict[str, date] = {}
        for mark in marks:
            for organisation in seeing.get(mark.case_id, ()):
                day = max(mark.day, horizon)
                first_by_org[organisation] = min(first_by_org.get(organisation, day), day)
        checked = restated = 0
        for organisation, first in sorted(first_by_org.items()):
            by_day: dict[date, list[MetricSnapshot]] = {}
            for original in repo.snapshots_between(first, last, organisation):
                by_day.setdefault(original.day, []).append(original)
            for day, originals in sorted(by_day.items()):
                # One derivation of the organisation's day, sliced for each stored place.
                fresh = places_discharge(
                    session,
                    day=day,
                    organisation=organisation,
                    places=[Place.of(o) for o in originals],
                    now=now,
                    ctx=ctx,
                )
                for original in originals:
                    checked += 1
                    restated += _restate_one(repo, original, fresh[Place.of(original)], now)
        repo.delete_marks([m.id for m in marks])
    first_day = min(first_by_org.values(), default=None)
    return Restated(len(marks), checked, restated, first_day)


def _restate_one(
    repo: RestatementRepository,
    original: MetricSnapshot,
    computed: dict[str, Any],
    now: datetime,
) -> bool:
    reported = original.payload.get("discharge") or {}
    if reported.get("definitions") != DEFINITIONS:
        return False
    latest = repo.latest(original)
    in_force = latest.payload["discharge"] if latest else reported
    fresh = json.loads(json.dumps(computed))  # as stored: lists, not tuples
    if not differences(in_force, fresh, "discharge"):
        return False
    repo.add(
        MetricRestatement(
            day=original.day,
            site=original.site,
            ward=original.ward,
            organisation=original.organisation,
            snapshot_at=original.snapshot_at,
            computed_at=now,
            payload={**original.payload, "discharge": fresh},
            differences=differences(reported, fresh, "discharge"),
        )
    )
    return True
