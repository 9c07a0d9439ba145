"""The SQL of referrals: a referral is a case of the `referral` workflow owned by the receiving
organisation, linked from the case that sent it (`CaseLink`, link type `referral`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.cases.scope import visible_to
from app.models import Case, CaseLink, Clock

REFERRAL_WORKFLOW = "referral"  # the pathway key (the integrator's guard reads the same)
REFERRAL_LINK = "referral"
RESPONSE_CLOCK = "response"  # pathways/referral.yaml: accepted or rejected within 24 hours


@dataclass(frozen=True)
class ReferralRow:
    task: Case
    parent: Case


class ReferralRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def parent_of(self, task_id: int) -> tuple[int, str] | None:
        """(parent case id, task's organisation) of a referral task; None when `task_id` is not
        a referral. Reads columns only, so no case is loaded before its lock."""
        stmt = (
            select(CaseLink.from_case_id, Case.organisation)
            .join(Case, Case.id == CaseLink.to_case_id)
            .where(
                CaseLink.to_case_id == task_id,
                CaseLink.link_type == REFERRAL_LINK,
                Case.workflow_key == REFERRAL_WORKFLOW,
            )
        )
        row = self.session.execute(stmt).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    def is_referral(self, case_id: int) -> bool:
        stmt = select(Case.id).where(Case.id == case_id, Case.workflow_key == REFERRAL_WORKFLOW)
        return self.session.execute(stmt).first() is not None

    def sent_by(self, parent_id: int, *, organisation: str | None = None) -> list[Case]:
        """The referrals the case sent, oldest first (only those to `organisation`, if given)."""
        stmt = (
            select(Case)
            .join(CaseLink, CaseLink.to_case_id == Case.id)
            .where(
                CaseLink.from_case_id == parent_id,
                CaseLink.link_type == REFERRAL_LINK,
                Case.workflow_key == REFERRAL_WORKFLOW,
            )
            .order_by(Case.opened_at, Case.id)
        )
        if organisation is not None:
            stmt = stmt.where(Case.organisation == organisation)
        return list(self.session.execute(stmt).scalars())

    def open_to(self, parent_id: int, organisation: str, *, besides: int) -> int:
        """How many open referrals from the case to `organisation` there are besides `besides`."""
        return sum(
            1
            for task in self.sent_by(parent_id, organisation=organisation)
            if task.is_open and task.id != besides
        )

    def listing(
        self,
        *,
        received_by: str | None = None,
        sent_by: str | None = None,
        states: Sequence[str] = (),
        open_only: bool = True,
        limit: int,
    ) -> list[ReferralRow]:
        """Referrals received by (owned by) or sent by (from cases owned by) an organisation,
        oldest first, with their parent case."""
        parent = aliased(Case)
        stmt = (
            select(Case, parent)
            .join(CaseLink, CaseLink.to_case_id == Case.id)
            .join(parent, parent.id == CaseLink.from_case_id)
            .where(Case.workflow_key == REFERRAL_WORKFLOW, CaseLink.link_type == REFERRAL_LINK)
            .order_by(Case.opened_at, Case.id)
            .limit(limit)
        )
        if received_by is not None:
            stmt = stmt.where(Case.organisation == received_by)
        if sent_by is not None:
            stmt = stmt.where(parent.organisation == sent_by)
        if states:
            stmt = stmt.where(Case.state.in_(list(states)))
        if open_only:
            stmt = stmt.where(Case.is_open.is_(True))
        return [ReferralRow(t, p) for t, p in self.session.execute(stmt).tuples()]

    def visible_ids(self, case_ids: Sequence[int], organisation: str) -> set[int]:
        if not case_ids:
            return set()
        stmt = select(Case.id).where(Case.id.in_(list(case_ids)), visible_to(organisation))
        return set(self.session.execute(stmt).scalars())

    def response_clocks(self, task_ids: Sequence[int]) -> dict[int, Clock]:
        """The latest cycle of each task's response clock."""
        if not task_ids:
            return {}
        stmt = (
            select(Clock)
            .where(Clock.case_id.in_(list(task_ids)), Clock.name == RESPONSE_CLOCK)
            .order_by(Clock.case_id, Clock.cycle)
        )
        return {c.case_id: c for c in self.session.execute(stmt).scalars()}
