"""SQL for the estimates: the CHC cases' state changes and the work queue's ratings."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.forecast.waits import Rating, StateChange
from app.models import Case, CaseEvent, ChcRagRating, ChcWorkItem


class ForecastRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def chc_cases(self, organisation: str, since: datetime) -> dict[int, str | None]:
        """The organisation's CHC cases open now or closed since `since`: id -> patient."""
        stmt = (
            select(Case.id, Case.patient_ref)
            .where(
                Case.workflow_key == "chc",
                Case.organisation == organisation,
                or_(Case.closed_at.is_(None), Case.closed_at >= since),
            )
            .order_by(Case.id)
        )
        return dict(self.session.execute(stmt).tuples().all())

    def state_changes(self, case_ids: list[int]) -> dict[int, list[StateChange]]:
        out: dict[int, list[StateChange]] = defaultdict(list)
        for chunk in _chunks(case_ids):
            stmt = (
                select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.to_state, CaseEvent.occurred_at)
                .where(CaseEvent.case_id.in_(chunk))
                .order_by(CaseEvent.case_id, CaseEvent.seq)
            )
            for case_id, seq, to_state, at in self.session.execute(stmt).tuples():
                out[case_id].append(StateChange(seq, to_state, at))
        return out

    def ratings(self, case_ids: list[int]) -> dict[int, list[Rating]]:
        out: dict[int, list[Rating]] = defaultdict(list)
        for chunk in _chunks(case_ids):
            stmt = (
                select(ChcRagRating.case_id, ChcRagRating.rag, ChcRagRating.rated_at)
                .where(ChcRagRating.case_id.in_(chunk))
                .order_by(ChcRagRating.case_id, ChcRagRating.rated_at, ChcRagRating.id)
            )
            for case_id, rag, at in self.session.execute(stmt).tuples():
                out[case_id].append(Rating(rag, at))
        return out

    def work_items(self, case_ids: list[int]) -> tuple[dict[int, datetime], dict[int, Rating]]:
        """Each case's wait since referral and its manual RAG override (with when it was made)."""
        referred: dict[int, datetime] = {}
        overrides: dict[int, Rating] = {}
        for chunk in _chunks(case_ids):
            stmt = select(
                ChcWorkItem.case_id,
                ChcWorkItem.waiting_since,
                ChcWorkItem.override_rag,
                ChcWorkItem.override_at,
            ).where(ChcWorkItem.case_id.in_(chunk))
            for case_id, since, rag, at in self.session.execute(stmt).tuples():
                referred[case_id] = since
                if rag and at is not None:
                    overrides[case_id] = Rating(rag, at)
        return referred, overrides


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
