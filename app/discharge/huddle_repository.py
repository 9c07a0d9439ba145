"""SQL for the daily huddle: the calls, their notes, and the little the agenda reads of cases
beyond the Ready-for-Discharge list (their versions, the sites to choose from)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.discharge.repository import WORKFLOW
from app.models import Case, Huddle, HuddleNote


class HuddleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def on_day(self, organisation: str, site: str, day: date) -> Huddle | None:
        stmt = select(Huddle).where(
            Huddle.organisation == organisation, Huddle.site == site, Huddle.held_on == day
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def before(self, organisation: str, site: str, day: date) -> Huddle | None:
        """The organisation's latest huddle for `site` held before `day`."""
        stmt = (
            select(Huddle)
            .where(Huddle.organisation == organisation, Huddle.site == site, Huddle.held_on < day)
            .order_by(Huddle.held_on.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def add(self, huddle: Huddle) -> None:
        self.session.add(huddle)
        self.session.flush()

    def add_note(self, note: HuddleNote) -> None:
        self.session.add(note)
        self.session.flush()

    def latest_notes(
        self, organisation: str, case_ids: Sequence[int]
    ) -> dict[int, tuple[HuddleNote, date]]:
        """Each case's latest note from the organisation's huddles, with the day of its huddle
        (notes are only ever added, so the highest id is the latest)."""
        if not case_ids:
            return {}
        latest = (
            select(func.max(HuddleNote.id))
            .join(Huddle, Huddle.id == HuddleNote.huddle_id)
            .where(Huddle.organisation == organisation, HuddleNote.case_id.in_(case_ids))
            .group_by(HuddleNote.case_id)
        )
        stmt = (
            select(HuddleNote, Huddle.held_on)
            .join(Huddle, Huddle.id == HuddleNote.huddle_id)
            .where(HuddleNote.id.in_(latest))
        )
        return {n.case_id: (n, day) for n, day in self.session.execute(stmt).tuples()}

    def discussed_in(self, huddle_id: int, case_ids: Sequence[int]) -> set[int]:
        if not case_ids:
            return set()
        stmt = select(HuddleNote.case_id).where(
            HuddleNote.huddle_id == huddle_id,
            HuddleNote.case_id.in_(case_ids),
            HuddleNote.discussed.is_(True),
        )
        return set(self.session.execute(stmt).scalars())

    def notes(self, organisation: str, case_id: int) -> list[tuple[HuddleNote, Huddle]]:
        """A case's notes from the organisation's huddles, oldest first."""
        stmt = (
            select(HuddleNote, Huddle)
            .join(Huddle, Huddle.id == HuddleNote.huddle_id)
            .where(Huddle.organisation == organisation, HuddleNote.case_id == case_id)
            .order_by(HuddleNote.id)
        )
        return [(n, h) for n, h in self.session.execute(stmt).tuples()]

    def versions(self, case_ids: Sequence[int]) -> dict[int, int]:
        if not case_ids:
            return {}
        stmt = select(Case.id, Case.version).where(Case.id.in_(case_ids))
        return dict(self.session.execute(stmt).tuples().all())

    def sites(self, organisation: str) -> list[str]:
        """The sites of the open discharge cases the organisation owns or shares."""
        stmt = (
            select(Case.site)
            .where(
                Case.workflow_key == WORKFLOW,
                Case.is_open.is_(True),
                Case.site.is_not(None),
                visible_to(organisation),
            )
            .distinct()
            .order_by(Case.site)
        )
        return [s for s in self.session.execute(stmt).scalars() if s]
