"""The CHC work items as a read model: each open CHC case's place on the working list.

Called by the transition entry point after every CHC state change, in its transaction, so the
queue, a claim and the dashboard see a case's new facts at once. A rating also depends on the
London date (days waiting), so `tick` re-rates every open case once a day; reads never write.
Claims and overrides are not derived from the events (they have their own append-only logs), so
a rebuild re-rates the items and keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.chc.config import ChcConfig
from app.chc.repository import ChcRepository
from app.chc.worklist import RefreshReport, computed, rate_one, rate_opened, refresh
from app.engine.readmodels import Change
from app.models import Case, ChcWorkItem

WORKFLOW = "chc"
# What `check` compares: the rating a case's facts give on the day the item was rated.
COMPARED = (
    "cohort",
    "responsible_body",
    "waiting_since",
    "computed_rag",
    "rule_ids",
    "ruleset_version",
)


class ChcWorkItems:
    name = "chc_work_items"
    workflows = frozenset({WORKFLOW})

    def __init__(self, cfg: ChcConfig) -> None:
        self.cfg = cfg

    def project(self, session: Session, change: Change) -> None:
        case = change.case
        if not case.is_open:
            return  # the item retires with its case (the trigger of migration 0007)
        repo = ChcRepository(session)
        # The rating columns only (a plain row, no ORM object): this runs on every CHC change.
        item = None if change.opened else repo.rating_of(case.id)
        report = RefreshReport()
        rate_one(repo, self.cfg, case, item, change.now, report)
        if report.updated:
            # Rated by a plain UPDATE: a work item this session already holds is read again.
            held = session.identity_map.get(identity_key(ChcWorkItem, case.id))
            if held is not None:
                session.expire(held)

    def project_opened(self, session: Session, changes: Sequence[Change]) -> None:
        """Cases opened together (a backlog import): their items in one statement."""
        rate_opened(ChcRepository(session), self.cfg, [(c.case, c.now) for c in changes])

    def tick(self, session: Session, *, now: datetime) -> int:
        """Re-rate every open case as at `now` (the days waiting moved on)."""
        return refresh(ChcRepository(session), self.cfg, organisation=None, now=now).updated

    def rebuild(self, session: Session, *, now: datetime) -> int:
        return refresh(ChcRepository(session), self.cfg, organisation=None, now=now).examined

    def check(self, session: Session, *, now: datetime) -> list[str]:  # noqa: ARG002
        # Each item is compared as at its own rating time: a rating depends on the date.
        rows = session.execute(
            select(Case, ChcWorkItem)
            .outerjoin(ChcWorkItem, ChcWorkItem.case_id == Case.id)
            .where(Case.workflow_key == WORKFLOW)
            .order_by(Case.id)
        ).tuples()
        out: list[str] = []
        for case, item in rows:
            if item is None:
                if case.is_open:
                    out.append(f"chc case {case.id}: open but has no work item")
                continue
            if case.is_open == (item.retired_at is not None):
                out.append(f"chc case {case.id}: retired_at {item.retired_at}, open={case.is_open}")
            if not case.is_open:
                continue
            expected = computed(case, self.cfg, item.rated_at)
            for name in COMPARED:
                if getattr(item, name) != expected[name]:
                    out.append(
                        f"chc case {case.id}: {name} is {getattr(item, name)!r}, "
                        f"its facts give {expected[name]!r}"
                    )
            if item.rag != (item.override_rag or item.computed_rag):
                out.append(f"chc case {case.id}: rag {item.rag!r} is neither override nor rating")
        return out
