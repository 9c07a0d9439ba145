"""A search as SQL conditions on a source: scope, patient, status and the date parameters.

Periods (`date`, `period`) are compared as ranges; a resource whose period has no end is still
going on:

- `ge` X: the period has not ended before X began (it ends at or after X, or goes on);
- `gt` X: it goes on after X (ends after X's last instant, or goes on);
- `le` X: it began by the end of X; `lt` X: it began before X;
- `eq` X: it lies wholly within X (begun and ended).

`_lastUpdated` compares the case's last change (one instant) with X's range the same way.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from app.cases.scope import shared_with, visible_to
from app.fhir.search import DateBound, SearchQuery
from app.fhir.sources import Expr, Source
from app.models import Case


def scope(organisation: str, *, shared_only: bool) -> ColumnElement[bool]:
    """Cases the organisation owns or shares; only those shared with it for a `shared_only`
    grant (a provider reads what was referred to it)."""
    return shared_with(organisation) if shared_only else visible_to(organisation)


def conditions(
    source: Source, query: SearchQuery, *, organisation: str, shared_only: bool
) -> list[ColumnElement[bool]]:
    out = [scope(organisation, shared_only=shared_only)]
    if query.nhs_numbers is not None:
        out.append(Case.patient_ref.in_(query.nhs_numbers))
    if query.statuses is not None:
        out.append(source.status_in(query.statuses))
    out += [period(source.start, source.end, bound) for bound in query.period]
    out += [instant(Case.updated_at, bound) for bound in query.last_updated]
    return out


def period(start: Expr, end: Expr | None, bound: DateBound) -> ColumnElement[bool]:
    goes_on = true() if end is None else end.is_(None)
    if bound.prefix == "ge":
        return goes_on if end is None else or_(goes_on, end >= bound.low)
    if bound.prefix == "gt":
        return goes_on if end is None else or_(goes_on, end >= bound.high)
    if bound.prefix == "le":
        return start < bound.high
    if bound.prefix == "lt":
        return start < bound.low
    if end is None:
        return false()  # eq: a period that never ends lies within no date
    return and_(start >= bound.low, end.is_not(None), end < bound.high)


def instant(at: Expr, bound: DateBound) -> ColumnElement[bool]:
    if bound.prefix == "ge":
        return at >= bound.low
    if bound.prefix == "gt":
        return at >= bound.high
    if bound.prefix == "le":
        return at < bound.high
    if bound.prefix == "lt":
        return at < bound.low
    return and_(at >= bound.low, at < bound.high)
