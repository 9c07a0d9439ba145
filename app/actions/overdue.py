"""Tell the owner of each action or milestone that went past its due time, once.

Run by the worker beside the clock sweep. Each alert is a row of the append-only
`action_alerts`, unique per action and due time, inserted with the notification in one
transaction: two sweepers racing insert one row and one notification between them, and an
action whose due time is moved can go late again, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.actions.repository import ActionRepository
from app.db import UnitOfWork
from app.models import ActionAlert, CaseAction
from app.notifications.outbox import notify_recipient


@dataclass
class OverdueReport:
    alerted: int = 0
    batches: int = 0


def sweep_overdue(
    sessions: sessionmaker[Session], *, now: datetime, batch_size: int = 200
) -> OverdueReport:
    report = OverdueReport()
    while True:
        with sessions() as session, UnitOfWork(session):
            repo = ActionRepository(session)
            due = repo.due_unalerted(now, batch_size)
            for action in due:
                if _alert(session, repo, action, now):
                    report.alerted += 1
        if len(due) < batch_size:
            return report
        report.batches += 1


def _alert(session: Session, repo: ActionRepository, action: CaseAction, now: datetime) -> bool:
    try:
        with session.begin_nested():
            repo.add_alert(
                ActionAlert(
                    case_id=action.case_id,
                    ref=action.ref,
                    due_at=action.due_at,
                    recorded_at=now,
                    owner_organisation=action.owner_organisation,
                )
            )
    except IntegrityError:
        return False  # another sweeper told them
    what = "Milestone" if action.kind == "milestone" else "Action"
    notify_recipient(
        session,
        kind="action_overdue",
        case_id=action.case_id,
        summary=(
            f"{what} {action.ref} on case {action.case_id} was due "
            f"{action.due_at:%Y-%m-%d %H:%M} UTC"
        ),
        now=now,
        organisation=action.owner_organisation,
        role=action.owner_role,
        username=action.assignee,
    )
    return True
