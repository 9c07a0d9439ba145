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
    BigInteger,
    ColumnElement,
    Select,
    Subquery,
    and_,
    any_,
    bindparam,
    case,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

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


# What the candidates carry of each spell: what the filters and sorts read.
_CARRIED = (
    "case_id",
    "site",
    "nctr_last_start",
    "nctr_last_end",
    "drd_day",
    "open_delays",
    "escalated",
)
# A tracker row's columns, by the name the row gives them (spell and case rows of one case).
ROW_COLUMNS: dict[str, ColumnElement[Any]] = {
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
    # A JSON list of criterion codes (or null), decoded by the driver on both databases.
    "ctr_criteria_met": _cases.c.attributes["ctr_criteria_met"],
}
SORT_KEYS = (
    "case_id",
    "site",
    "ward",
    "state",
    "not_meeting_since",
    "discharge_ready_date",
    "days_delayed",
    "planned_pathway",
    "delays",
    "expected_discharge_date",
    "responsible_person",
    "escalated",
)


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
    """A key of `SORT_KEYS`; empty values last whichever the direction, ties by case id.
    `states` is the pathway's order of states (the state sort follows it)."""

    key: str
    descending: bool
    states: tuple[str, ...]


@dataclass(frozen=True)
class OpenDelay:
    case_id: int
    code: str
    started_at: datetime
    marked_primary: bool


@dataclass(frozen=True)
class Found:
    rows: list[dict[str, Any]]
    count: int


class TrackerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._serial = False

    def _run(self, stmt: Executable) -> CursorResult[Any]:
        """On the session's connection, in its transaction, without the ORM's result layer
        (plain rows; the ORM's handling costs more than the rows of a printed list)."""
        return self.session.connection().execute(stmt)

    def _short_queries(self) -> None:
        """PostgreSQL plans the tracker's statements (a few thousand rows each) in parallel
        once the tables are large, and starting the workers costs more than the work: on the
        bench's 100k open cases, half the page's time. This transaction's statements run in
        one process (`SET LOCAL` ends with the transaction)."""
        if self._postgres and not self._serial:
            self._run(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            self._serial = True

    def page(
        self, scope: Scope, *, filters: Filters, order: Order, limit: int, offset: int
    ) -> Found:
        """One page of rows (column name -> value) in order, and how many rows match.

        One statement: the matching cases are numbered in order (reading only what the filters
        and the sort need), and only the page's cases are read whole."""
        self._short_queries()
        cand = _candidates(scope)
        expression, backwards = _sort_expression(order, cand)
        key = expression.desc() if order.descending != backwards else expression.asc()
        ordering = (key.nulls_last(), cand.c.case_id)
        numbered = (
            self._scoped(
                scope,
                cand,
                filters,
                [
                    cand.c.case_id,
                    func.row_number().over(order_by=ordering).label("position"),
                    func.count().over().label("total"),
                ],
            )
            .order_by(*ordering)
            .limit(limit)
            .offset(offset)
            .subquery("numbered")
        )
        stmt = (
            select(*ROW_COLUMNS.values(), numbered.c.total)
            .select_from(numbered)
            .join(_spells, _spells.c.case_id == numbered.c.case_id)
            .join(_cases, _cases.c.id == numbered.c.case_id)
            .order_by(numbered.c.position)
        )
        names = list(ROW_COLUMNS)
        rows, total = [], None
        for row in self._run(stmt):
            rows.append(dict(zip(names, row[:-1], strict=True)))
            total = row[-1]
        if total is None:  # a page past the end: count apart
            total = self.count(scope, filters=filters)
        return Found(rows, int(total))

    def count(self, scope: Scope, *, filters: Filters) -> int:
        self._short_queries()
        cand = _candidates(scope)
        stmt = self._scoped(scope, cand, filters, [func.count()])
        return int(self._run(stmt).scalar_one())

    def groups(self, scope: Scope) -> list[tuple[Any, ...]]:
        """(site, ward, state, planned pathway, rows) for every combination in the scope:
        what the filters can offer, in one statement."""
        self._short_queries()
        cand = _candidates(scope)
        keys: list[ColumnElement[Any]] = [
            cand.c.site,
            attribute("ward"),
            _cases.c.state,
            attribute("pathway"),
        ]
        stmt = self._scoped(scope, cand, Filters(), [*keys, func.count()]).group_by(*keys)
        return [tuple(row) for row in self._run(stmt)]

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
            .where(self._one_of(_periods.c.case_id, case_ids), _periods.c.ended_at.is_(None))
            .order_by(_periods.c.case_id, _periods.c.ordinal)
        )
        for row in self._run(stmt):
            out[row.case_id].append(
                OpenDelay(row.case_id, row.code, row.started_at, row.marked_primary)
            )
        return out

    def _one_of(self, column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
        """`column` is one of `ids`: on PostgreSQL one array parameter (a printed list of
        2,000 cases would otherwise be 2,000 parameters to send and parse), elsewhere IN."""
        if self._postgres:
            return column == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
        return column.in_(list(ids))

    # -- the scoped statement -----------------------------------------------------------------
    def _scoped(
        self,
        scope: Scope,
        cand: Subquery,
        filters: Filters,
        columns: list[ColumnElement[Any]],
    ) -> Select[Any]:
        """The candidates joined to their cases, kept when the scope predicate and the filters
        hold."""
        org = scope.organisation
        visible = shared_with(org) if scope.shared_only else visible_to(org)
        return (
            select(*columns)
            .select_from(cand)
            .join(Case, Case.id == cand.c.case_id)
            .where(visible, *_conditions(filters, cand))
        )


def _candidates(scope: Scope) -> Subquery:
    """The open, in-hospital spells that may be in scope, each found by index (see the
    module's docstring), with what the filters and sorts read of them."""
    org = scope.organisation
    carried = [_spells.c[name] for name in _CARRIED]
    in_hospital = (_spells.c.closed_at.is_(None), _spells.c.left_at.is_(None))
    shares = CaseShare.__table__
    shared = (
        select(*carried)
        .select_from(shares.join(_spells, _spells.c.case_id == shares.c.case_id))
        .where(shares.c.organisation == org, *in_hospital)
    )
    if scope.shared_only:
        return shared.subquery("candidates")
    owned = select(*carried).where(_spells.c.organisation == org, *in_hospital)
    # A case is either the organisation's own or shared with it, never listed twice.
    return union_all(owned, shared.where(_spells.c.organisation != org)).subquery("candidates")


def _conditions(f: Filters, cand: Subquery) -> list[ColumnElement[bool]]:
    c = cand.c
    out: list[ColumnElement[bool]] = []
    if f.site is not None:
        out.append(c.site == f.site)
    if f.ward is not None:
        out.append(attribute("ward") == f.ward)
    if f.pathway == NO_PATHWAY:
        out.append(attribute("pathway").is_(None))
    elif f.pathway is not None:
        out.append(attribute("pathway") == f.pathway)
    if f.state is not None:
        out.append(_cases.c.state == f.state)
    if f.escalated is not None:
        out.append(c.escalated == f.escalated)
    if f.drd_on_or_before is not None:
        out.append(c.drd_day <= f.drd_on_or_before)
    if f.drd_on_or_after is not None:
        out.append(c.drd_day >= f.drd_on_or_after)
    return out


def _sort_expression(order: Order, cand: Subquery) -> tuple[ColumnElement[Any], bool]:
    """The expression a sort key orders by, and whether the tracker's "ascending" runs it
    backwards (more days delayed is an earlier discharge-ready date)."""
    c = cand.c
    if order.key == "days_delayed":
        return c.drd_day, True
    if order.key == "state":
        states = order.states
        return case(
            {s: i for i, s in enumerate(states)}, value=_cases.c.state, else_=len(states)
        ), False
    if order.key == "not_meeting_since":
        open_period = and_(c.nctr_last_start.is_not(None), c.nctr_last_end.is_(None))
        return case((open_period, c.nctr_last_start), else_=None), False
    by_name: dict[str, ColumnElement[Any]] = {
        "case_id": c.case_id,
        "site": c.site,
        "ward": attribute("ward"),
        "discharge_ready_date": c.drd_day,
        "planned_pathway": attribute("pathway"),
        "delays": c.open_delays,
        "expected_discharge_date": attribute("expected_discharge_date"),
        "responsible_person": attribute("responsible_person"),
        "escalated": c.escalated,
    }
    return by_name[order.key], False
