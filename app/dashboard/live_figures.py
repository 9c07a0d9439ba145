"""Today's dashboard figures, computed ahead so a reader never waits for them.

Computing today's figures takes SQL aggregates over every open spell (and the CHC work list),
which grows with the number of patients. Readers instead get the stored figures for their
organisation and site, at most `max_age` old, with the instant they were computed; the
service's refresher recomputes each row that someone asked for in the last hour once it is
`refresh` old. A row that is missing, or older than `max_age` (no refresher running), is
computed by the reader and stored. With `max_age` 0 every request computes its figures.

Several workers may run the refresher: a refresher first claims a stale row by moving its
`computed_at` forward (compare-and-set), so the others skip it and a row is computed once per
round; the figures themselves carry the instant they are as at (`snapshot_at`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import UnitOfWork
from app.models.live import LiveFigures
from app.models.snapshot import ALL_SITES

log = logging.getLogger(__name__)

DAILY, CHC = "daily", "chc"
# Rows nobody asked for within this long are left to go stale.
IDLE_AFTER = timedelta(hours=1)
# A reader refreshes `requested_at` at most this often, so most reads write nothing.
TOUCH_EVERY = timedelta(minutes=5)

# (session, organisation, site or None, part, now) -> the figures as at `now`.
Compute = Callable[[Session, str, str | None, str, datetime], dict[str, Any]]


@dataclass(frozen=True)
class Freshness:
    max_age: timedelta  # oldest figures a reader is given; 0 = always computed on request
    refresh: timedelta  # age at which the refresher recomputes a row


class LiveFiguresRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, organisation: str, site: str, part: str) -> LiveFigures | None:
        return self.session.get(LiveFigures, (organisation, site, part))

    def due(self, now: datetime, refresh: timedelta) -> list[tuple[str, str, str]]:
        stmt = select(LiveFigures.organisation, LiveFigures.site, LiveFigures.part).where(
            LiveFigures.computed_at <= now - refresh,
            LiveFigures.requested_at >= now - IDLE_AFTER,
        )
        return [(o, s, p) for o, s, p in self.session.execute(stmt).tuples()]

    def claim(self, key: tuple[str, str, str], now: datetime, refresh: timedelta) -> bool:
        """Mark a stale row as being recomputed (compare-and-set on `computed_at`), so other
        refreshers skip it; False if it is fresh or another refresher claimed it first."""
        stmt = (
            update(LiveFigures)
            .where(_is(key), LiveFigures.computed_at <= now - refresh)
            .values(computed_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def store(self, key: tuple[str, str, str], payload: dict[str, Any], now: datetime) -> None:
        stmt = (
            update(LiveFigures)
            .where(_is(key))
            .values(computed_at=now, payload=payload)
            .execution_options(synchronize_session=False)
        )
        self.session.execute(stmt)


def _is(key: tuple[str, str, str]) -> ColumnElement[bool]:
    return and_(
        LiveFigures.organisation == key[0], LiveFigures.site == key[1], LiveFigures.part == key[2]
    )


def figures(
    session: Session,
    *,
    organisation: str,
    site: str | None,
    part: str,
    now: datetime,
    freshness: Freshness,
    compute: Compute,
) -> dict[str, Any]:
    """The stored figures if fresh enough, else figures computed now (and stored)."""
    if freshness.max_age <= timedelta(0):
        return compute(session, organisation, site, part, now)
    repo = LiveFiguresRepository(session)
    key = site or ALL_SITES
    row = repo.get(organisation, key, part)
    if row is not None and now - row.computed_at <= freshness.max_age:
        payload = dict(row.payload)
        if now - row.requested_at >= TOUCH_EVERY:
            with UnitOfWork(session):
                row.requested_at = now
        session.rollback()
        return payload
    session.rollback()
    payload = compute(session, organisation, site, part, now)
    session.rollback()
    try:
        with UnitOfWork(session):
            _store(
                session, repo.get(organisation, key, part), (organisation, key, part), payload, now
            )
    except IntegrityError:
        pass  # another reader stored the row first; these figures are as good
    return payload


def refresh_due(
    sessions: sessionmaker[Session], *, now: datetime, refresh: timedelta, compute: Compute
) -> int:
    """Recompute every stale row that was asked for recently; returns how many."""
    with sessions() as session:
        keys = LiveFiguresRepository(session).due(now, refresh)
    done = 0
    for key in keys:
        # Claimed, computed and stored in separate short transactions: nothing is locked
        # while the figures are computed (SQLite has a single writer, and computing the CHC
        # figures writes ratings).
        with sessions() as session, UnitOfWork(session):
            claimed = LiveFiguresRepository(session).claim(key, now, refresh)
        if not claimed:
            continue  # fresh already, or another refresher is on it
        site = None if key[1] == ALL_SITES else key[1]
        with sessions() as session:
            payload = compute(session, key[0], site, key[2], now)
            session.rollback()
            with UnitOfWork(session):
                LiveFiguresRepository(session).store(key, payload, now)
        done += 1
    return done


def _store(
    session: Session,
    row: LiveFigures | None,
    key: tuple[str, str, str],
    payload: dict[str, Any],
    now: datetime,
) -> None:
    if row is None:
        session.add(
            LiveFigures(
                organisation=key[0],
                site=key[1],
                part=key[2],
                computed_at=now,
                requested_at=now,
                payload=payload,
            )
        )
        session.flush()
        return
    row.computed_at = now
    row.payload = payload
    row.requested_at = now


@dataclass(frozen=True)
class LiveSource:
    """How today's figures are computed and how fresh they must be (one per application)."""

    freshness: Freshness
    compute: Compute

    def figures(
        self, session: Session, organisation: str, site: str | None, part: str, now: datetime
    ) -> dict[str, Any]:
        return figures(
            session,
            organisation=organisation,
            site=site,
            part=part,
            now=now,
            freshness=self.freshness,
            compute=self.compute,
        )
