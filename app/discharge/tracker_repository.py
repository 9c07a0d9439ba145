"""SQL for the discharge team's tracker: the inpatients with an open discharge case that an
organisation may see, filtered, sorted and a page at a time, read from the spell read model
(`discharge_spells`, `discharge_delay_periods`) and the case row.

Scoping is the API's own predicate (`app.cases.scope.visible_to`, or `shared_with` for a
`shared_only` grant), applied to every row. In front of it, PostgreSQL is given a small set of
candidates it can find by index: the organisation's own open spells (the partial index
`ix_discharge_spells_open`) together with the cases shared with it (`case_shares.organisation`).
The candidates can only add rows for the scope predicate to check, never remove one it would
keep: a spell row carries its case's organisation, rewritten in the transaction that changes it.

Ward, planned pathway, expected date, responsible person and escalation reason are read from
the case row (its current attributes, where the Ready-for-Discharge list reads them too), not
copied into the spell row: copying them would cost an UPDATE on every detail update (the most
frequent write of a ward day), while filtering and sorting a few thousand candidate rows on them
costs the read almost nothing (bench/tracker.py measures it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    func,
    select,
    union,
)
from sqlalchemy.orm import Session

from app.cases.scope import shared_with, visible_to
from app.models import Case, CaseShare
from app.models.spell import DischargeDelayPeriod, DischargeSpell

_spells = DischargeSpell.__table__
_periods = DischargeDelayPeriod.__table__
_cases = Case.__table__
NO_PATHWAY = "none"


def attribute(name: str) -> ColumnElement[str]:
    """A case attribute as text (NULL when absent or null), on SQLite and PostgreSQL."""
    return cast("ColumnElement[str]", _cases.c.attributes[name].as_string())


# The columns a tracker row is made of, by the name the row gives them.
COLUMNS: dict[str, ColumnElement[Any]] = {
    "case_id": _spells.c.case_id,
    "patient_ref": _cases.c.patient_ref,
    "site": _spells.c.site,
    "ward": attribute("ward"),
    "state": _cases.c.state,
    "nctr_last_start": _spells.c.nctr_last_start,
    "nctr_last_end": _spells.c.nctr_last_end,
    "drd_day": _spells.c.drd_day,
    "planned_pathway": attribute("pathway"),
    "open_delays": _spells.c.open_delays,
    "expected_discharge_date": attribute("expected_discharge_date"),
    "responsible_person": attribute("responsible_person"),
    "escalated": _spells.c.escalated,
    "escalation_reason": attribute("escalation_reason"),
}


@dataclass(frozen=True)
class Scope:
    """Whose inpatients: the organisation's and those shared with it, or (`shared_only`) only
    those shared with it."""

    organisation: str
    shared_only: bool = False


@dataclass(frozen=True)
class Filters:
    """What the rows must match; None places no condition. Days are London-date ordinals."""

    site: str | None = None
    ward: str | None = None
    pathway: str | None = None  # a pathway code, or NO_PATHWAY for none planned yet
    state: str | None = None
    escalated: bool | None = None
    drd_on_or_before: int | None = None  # at least N days since the DRD
    drd_on_or_after: int | None = None  # at most N days since the DRD


@dataclass(frozen=True)
class Order:
    """Sort by `expression`, empty values last whichever the direction, then by case id."""

    expression: ColumnElement[Any]
    descending: bool


@dataclass(frozen=True)
class OpenDelay:
    case_id: int
    code: str
    started_at: datetime
    marked_primary: bool


class TrackerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        scope: Scope,
        *,
        filters: Filters,
        order: Order,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """One page of rows (column name -> value), in order."""
        stmt = self._scoped(scope, filters, list(COLUMNS.values()))
        key = order.expression.desc() if order.descending else order.expression.asc()
        stmt = stmt.order_by(key.nulls_last(), _spells.c.case_id).limit(limit).offset(offset)
        names = list(COLUMNS)
        return [dict(zip(names, row, strict=True)) for row in self.session.execute(stmt)]

    def count(self, scope: Scope, *, filters: Filters) -> int:
        stmt = self._scoped(scope, filters, [func.count()])
        return int(self.session.execute(stmt).scalar_one())

    def groups(self, scope: Scope) -> list[tuple[Any, ...]]:
        """(site, ward, state, planned pathway, rows) for every combination in the scope:
        what the filters can offer, in one statement."""
        keys: list[ColumnElement[Any]] = [
            _spells.c.site,
            attribute("ward"),
            _cases.c.state,
            attribute("pathway"),
        ]
        stmt = self._scoped(scope, Filters(), [*keys, func.count()])
        return [tuple(row) for row in self.session.execute(stmt.group_by(*keys))]

    def open_delays(self, case_ids: Sequence[int]) -> dict[int, list[OpenDelay]]:
        """The open delay periods of the cases, in the order the spell lists them."""
        out: dict[int, list[OpenDelay]] = defaultdict(list)
        if not case_ids:
            return out
        stmt = (
            select(
                _periods.c.case_id,
                _periods.c.code,
                _periods.c.started_at,
                _periods.c.marked_primary,
            )
            .where(_periods.c.case_id.in_(list(case_ids)), _periods.c.ended_at.is_(None))
            .order_by(_periods.c.case_id, _periods.c.ordinal)
        )
        for row in self.session.execute(stmt):
            out[row.case_id].append(
                OpenDelay(row.case_id, row.code, row.started_at, row.marked_primary)
            )
        return out

    # -- the scoped statement -----------------------------------------------------------------
    def _scoped(
        self, scope: Scope, filters: Filters, columns: list[ColumnElement[Any]]
    ) -> Select[Any]:
        org = scope.organisation
        candidates = _candidates(org, scope.shared_only)
        visible = shared_with(org) if scope.shared_only else visible_to(org)
        return (
            select(*columns)
            .select_from(candidates)
            .join(_spells, _spells.c.case_id == candidates.c.case_id)
            .join(Case, Case.id == _spells.c.case_id)
            .where(
                visible,
                _spells.c.closed_at.is_(None),
                _spells.c.left_at.is_(None),
                *_conditions(filters),
            )
        )


def _candidates(organisation: str, shared_only: bool) -> Subquery:
    """Case ids that may be in scope, each found by index (see the module's docstring)."""
    shared = select(CaseShare.case_id.label("case_id")).where(
        CaseShare.organisation == organisation
    )
    if shared_only:
        return shared.subquery("candidates")
    owned = select(_spells.c.case_id.label("case_id")).where(
        _spells.c.organisation == organisation,
        _spells.c.closed_at.is_(None),
        _spells.c.left_at.is_(None),
    )
    return union(owned, shared).subquery("candidates")


def _conditions(f: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.site is not None:
        out.append(_spells.c.site == f.site)
    if f.ward is not None:
        out.append(attribute("ward") == f.ward)
    if f.pathway == NO_PATHWAY:
        out.append(attribute("pathway").is_(None))
    elif f.pathway is not None:
        out.append(attribute("pathway") == f.pathway)
    if f.state is not None:
        out.append(_cases.c.state == f.state)
    if f.escalated is not None:
        out.append(_spells.c.escalated == f.escalated)
    if f.drd_on_or_before is not None:
        out.append(_spells.c.drd_day <= f.drd_on_or_before)
    if f.drd_on_or_after is not None:
        out.append(_spells.c.drd_day >= f.drd_on_or_after)
    return out


def state_rank(states: Sequence[str]) -> ColumnElement[int]:
    """The case's state as its position in `states` (the pathway's order), unknown ones last."""
    return case({s: i for i, s in enumerate(states)}, value=_cases.c.state, else_=len(states))


def not_meeting_since() -> ColumnElement[datetime]:
    """The start of the open period of not meeting the criteria to reside, NULL if none."""
    return case(
        (
            and_(_spells.c.nctr_last_start.is_not(None), _spells.c.nctr_last_end.is_(None)),
            _spells.c.nctr_last_start,
        ),
        else_=None,
    )
