"""FHIR read and search use cases: find the rows in SQL, build and validate the resources.

Each resource type has a source (`app.fhir.sources`: what to select and how to filter it), an id
reader, and a builder that turns one page of rows into validated `fhir.resources` models with
the few extra queries the page needs (never per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import Session

from app.codelists.loader import CodeSetRegistry
from app.discharge.repository import DischargeRepository
from app.fhir import encounter, episode, flag, sources, statuses, task
from app.fhir.errors import FhirError
from app.fhir.filters import conditions, scope
from app.fhir.paging import Page
from app.fhir.repository import FhirRepository
from app.fhir.search import SearchQuery


@dataclass(frozen=True)
class Reader:
    """Who reads, and how much of it they may see."""

    organisation: str
    shared_only: bool
    identifiers: bool


@dataclass(frozen=True)
class Context:
    session: Session
    codes: CodeSetRegistry
    now: datetime

    @property
    def repo(self) -> FhirRepository:
        return FhirRepository(self.session)


Build = Callable[[Context, Sequence[Row[Any]], bool], list[BaseModel]]
IdReader = Callable[[str, datetime], tuple[int, ColumnElement[bool]] | None]


def _encounters(ctx: Context, rows: Sequence[Row[Any]], identifiers: bool) -> list[BaseModel]:
    pairs = [(row[0], row[1]) for row in rows]
    facts = encounter.spell_facts(pairs, ctx.repo, ctx.codes)
    history = ctx.repo.events([c.id for c, _ in pairs], encounter.LOCATION_EVENTS)
    return [
        encounter.build(
            case, facts[case.id], history.get(case.id, []), ctx.codes, identifiers=identifiers
        )
        for case, _ in pairs
    ]


def _episodes(_ctx: Context, rows: Sequence[Row[Any]], identifiers: bool) -> list[BaseModel]:
    return [episode.build(row[0], row.period_end, identifiers=identifiers) for row in rows]


def _tasks(ctx: Context, rows: Sequence[Row[Any]], identifiers: bool) -> list[BaseModel]:
    delayed = [row[0].id for row in rows if row.kind == "delay"]
    _spells, periods = DischargeRepository(ctx.session).projected(delayed)
    return [
        task.build(
            row[0],
            row.kind,
            row.since,
            row[1],
            periods.get(row[0].id, []),
            ctx.codes,
            identifiers=identifiers,
        )
        for row in rows
    ]


def _flags(ctx: Context, rows: Sequence[Row[Any]], identifiers: bool) -> list[BaseModel]:
    raised = ctx.repo.events([row[0].id for row in rows], [flag.RAISE])
    return [
        flag.build(
            row[0],
            row[1],
            row.period_start,
            row.period_end,
            raised.get(row[0].id, []),
            identifiers=identifiers,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Kind:
    source: Callable[[datetime], sources.Source]
    ident: IdReader
    build: Build
    statuses: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "Encounter": Kind(
        lambda _now: sources.encounters(),
        lambda text, _now: sources.encounter_id(text),
        _encounters,
        statuses.ENCOUNTER_STATUSES,
    ),
    "EpisodeOfCare": Kind(
        lambda _now: sources.episodes(),
        lambda text, _now: sources.episode_id(text),
        _episodes,
        statuses.EPISODE_STATUSES,
    ),
    "Task": Kind(sources.tasks, sources.task_id, _tasks, statuses.TASK_STATUSES),
    "Flag": Kind(
        lambda _now: sources.flags(),
        lambda text, _now: sources.flag_id(text),
        _flags,
        statuses.FLAG_STATUSES,
    ),
}


def read(ctx: Context, *, resource: str, resource_id: str, reader: Reader) -> tuple[int, BaseModel]:
    """(its case id, the resource) by id; 404 when there is none or the reader may not see it
    (another organisation's case reads as absent)."""
    kind = KINDS[resource]
    found = kind.ident(resource_id, ctx.now)
    missing = FhirError(f"{resource}/{resource_id} not found", status=404)
    if found is None:
        raise missing
    case_id, condition = found
    where = [condition, scope(reader.organisation, shared_only=reader.shared_only)]
    row = ctx.repo.one(kind.source(ctx.now), where)
    if row is None:
        raise missing
    return case_id, kind.build(ctx, [row], reader.identifiers)[0]


def search(
    ctx: Context, *, resource: str, query: SearchQuery, reader: Reader, size: int
) -> tuple[Page, list[tuple[str, BaseModel]]]:
    """One page of matches (`size` of them at most; 0 counts only) and the resources on it."""
    if query.nhs_numbers is not None and not reader.identifiers:
        raise FhirError(
            "Your access withholds patient identifiers, so you may not search by NHS number",
            status=403,
        )
    kind = KINDS[resource]
    source = kind.source(ctx.now)
    where = conditions(
        source, query, organisation=reader.organisation, shared_only=reader.shared_only
    )
    total = ctx.repo.count(source, where)
    if size == 0:
        return Page([], total, False, False), []
    rows, before, after = ctx.repo.page(source, where, query.cursor, size)
    models = kind.build(ctx, rows, reader.identifiers)
    page = Page([row[0].id for row in rows], total, before, after)
    return page, [(f"{resource}/{m.id}", m) for m in models]  # type: ignore[attr-defined]
