"""Where each resource type comes from in the database, as SQL the searches filter and page.

A source is the statement that selects the resource's cases (with the read-model rows and the
derived times it needs), the SQL expressions of its period (what `date` searches), how its status
codes read as conditions, and how its resource ids name cases:

- Encounter: a `discharge` case (the acute hospital spell), with its spell read-model row;
  period from the admission to leaving hospital. Id: the case id.
- EpisodeOfCare: a `chc` or `intermediate_care` case; period from opening to the episode's end
  (an IC episode ends with `end_episode`; otherwise the case's close). Id: the case id.
- Task: open work, at most one per case: a live claim of a CHC case (`<id>-claim`), an IC
  episode waiting for capacity (`<id>-start`), a discharge with delay reasons open
  (`<id>-delay`). Its period starts when the work began and has no end.
- Flag: a discharge case that has been escalated (`<id>-escalation`); active while the case is
  escalated and open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, null, or_, select
from sqlalchemy import type_coerce as coerce
from sqlalchemy.orm import QueryableAttribute

from app.fhir.statuses import (
    CHC,
    DISCHARGE,
    EPISODE_WORKFLOWS,
    INTERMEDIATE_CARE,
    encounter_states,
    episode_states,
)
from app.ic.episode import WAITING_STATE
from app.models import Case, CaseEvent
from app.models.base import UTCDateTime
from app.models.chc import ChcWorkItem
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.security.inputs import MAX_ID

CASE_ID = re.compile(r"[1-9][0-9]{0,18}")
TASK_ID = re.compile(r"(?P<case>[1-9][0-9]{0,18})-(?P<kind>claim|start|delay)")
FLAG_ID = re.compile(r"(?P<case>[1-9][0-9]{0,18})-escalation")
TASK_STATUS = {"claim": "in-progress", "start": "ready", "delay": "in-progress"}
# A column or a derived SQL expression (a time the period starts or ends at).
Expr = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class Source:
    resource: str
    statement: Select[Any]
    start: Expr
    end: Expr | None  # None: the period never ends while the resource exists
    statuses: dict[str, ColumnElement[bool]]  # status code -> SQL condition

    def status_in(self, codes: frozenset[str]) -> ColumnElement[bool]:
        conditions = [self.statuses[c] for c in sorted(codes) if c in self.statuses]
        return or_(*conditions) if conditions else false()


def _case_id(text: str) -> int | None:
    return int(text) if CASE_ID.fullmatch(text) and int(text) <= MAX_ID else None


def _latest(event: str) -> ColumnElement[Any]:
    """The clinical time of the case's latest `event` (NULL when it has none)."""
    return (
        select(func.max(CaseEvent.occurred_at))
        .where(CaseEvent.case_id == Case.id, CaseEvent.event == event)
        .correlate(Case)
        .scalar_subquery()
    )


def _instant(expression: Any) -> ColumnElement[Any]:
    return coerce(expression, UTCDateTime())


# -- Encounter -------------------------------------------------------------------------------------
def encounters() -> Source:
    statement = (
        select(Case, DischargeSpell)
        .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
        .where(Case.workflow_key == DISCHARGE)
    )
    codes = ("in-progress", "finished", "cancelled", "planned")
    return Source(
        "Encounter",
        statement,
        DischargeSpell.admitted_at,
        DischargeSpell.left_at,
        {c: Case.state.in_(encounter_states({c})) for c in codes},
    )


def encounter_id(resource_id: str) -> tuple[int, ColumnElement[bool]] | None:
    found = _case_id(resource_id)
    return (found, Case.id == found) if found is not None else None


# -- EpisodeOfCare ---------------------------------------------------------------------------------
def episodes() -> Source:
    ended = func.coalesce(_latest("end_episode"), Case.closed_at)
    end = _instant(case((Case.workflow_key == INTERMEDIATE_CARE, ended), else_=Case.closed_at))
    statement = select(Case, end.label("period_end")).where(
        Case.workflow_key.in_(EPISODE_WORKFLOWS)
    )
    statuses: dict[str, ColumnElement[bool]] = {}
    for code in ("planned", "waitlist", "active", "onhold", "finished", "cancelled"):
        parts = [
            and_(Case.workflow_key == workflow, Case.state.in_(states))
            for workflow, states in episode_states({code}).items()
            if states
        ]
        statuses[code] = or_(*parts) if parts else false()
    return Source("EpisodeOfCare", statement, Case.opened_at, end, statuses)


episode_id = encounter_id


# -- Task ------------------------------------------------------------------------------------------
def _task_kinds(now: datetime) -> dict[str, ColumnElement[bool]]:
    return {
        "claim": and_(
            Case.workflow_key == CHC,
            Case.is_open.is_(True),
            ChcWorkItem.claimed_by_id.is_not(None),
            ChcWorkItem.claim_expires_at > now,
        ),
        "start": and_(Case.workflow_key == INTERMEDIATE_CARE, Case.state == WAITING_STATE),
        "delay": and_(Case.workflow_key == DISCHARGE, DischargeSpell.open_delays > 0),
    }


def tasks(now: datetime) -> Source:
    kinds = _task_kinds(now)
    delay_since = (
        select(func.min(DischargeDelayPeriod.started_at))
        .where(DischargeDelayPeriod.case_id == Case.id, DischargeDelayPeriod.ended_at.is_(None))
        .correlate(Case)
        .scalar_subquery()
    )
    since = _instant(
        case(
            (kinds["claim"], ChcWorkItem.claimed_at),
            (kinds["start"], func.coalesce(_latest("await_capacity"), Case.opened_at)),
            else_=delay_since,
        )
    )
    kind = case(*((condition, name) for name, condition in kinds.items()), else_=null())
    statement = (
        select(Case, ChcWorkItem, kind.label("kind"), since.label("since"))
        .outerjoin(ChcWorkItem, ChcWorkItem.case_id == Case.id)
        .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
        .where(or_(*kinds.values()))
    )
    statuses = {
        status: or_(*(kinds[k] for k, s in TASK_STATUS.items() if s == status))
        for status in set(TASK_STATUS.values())
    }
    return Source("Task", statement, since, None, statuses)


def task_id(resource_id: str, now: datetime) -> tuple[int, ColumnElement[bool]] | None:
    match = TASK_ID.fullmatch(resource_id)
    if match is None or int(match["case"]) > MAX_ID:
        return None
    found = int(match["case"])
    return found, and_(Case.id == found, _task_kinds(now)[match["kind"]])


# -- Flag ------------------------------------------------------------------------------------------
def _flag_active() -> ColumnElement[bool]:
    return and_(DischargeSpell.escalated.is_(True), Case.is_open.is_(True))


def flags() -> Source:
    raised, cleared = _latest("raise_escalation"), _latest("clear_escalation")
    escalated = exists().where(CaseEvent.case_id == Case.id, CaseEvent.event == "raise_escalation")
    end = _instant(
        case(
            (_flag_active(), null()),
            (cleared >= raised, cleared),
            else_=Case.closed_at,
        )
    )
    statement = (
        select(
            Case,
            DischargeSpell,
            _instant(raised).label("period_start"),
            end.label("period_end"),
        )
        .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
        .where(Case.workflow_key == DISCHARGE, escalated)
    )
    statuses = {"active": _flag_active(), "inactive": ~_flag_active()}
    return Source("Flag", statement, _instant(raised), end, statuses)


def flag_id(resource_id: str) -> tuple[int, ColumnElement[bool]] | None:
    match = FLAG_ID.fullmatch(resource_id)
    if match is None or int(match["case"]) > MAX_ID:
        return None
    found = int(match["case"])
    return found, Case.id == found
