"""The discharge team's tracker: every inpatient with an open discharge case the caller's
organisation may see, with the criteria-to-reside status, discharge-ready date, days delayed,
planned pathway, open delay reasons, expected date, responsible person and escalation.

Filtered, sorted and a page at a time (`TrackerQuery`), with a count and the values the filters
can offer (`tracker_options`). Read from the spell read model and the case rows, never by
replaying events (SQL in `app.discharge.tracker_repository`). Scoped and reduced by the caller's
grant of `rfd.read`, as the Ready-for-Discharge list: its organisation's cases and those shared
with it (only the shared ones for a `shared_only` grant), without patient identifiers for a
`no_identifiers` grant (`Grant.reduce`). The route writes the access audit of the rows it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.access import Grant
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.discharge.history import LEAVES_HOSPITAL
from app.discharge.repository import WORKFLOW
from app.discharge.service import DelayLabels
from app.discharge.tracker_repository import (
    NO_PATHWAY,
    SORT_KEYS,
    Filters,
    OpenDelay,
    Order,
    Scope,
    TrackerRepository,
)
from app.engine.catalogue import PathwayCatalogue
from app.errors import ValidationFailed
from app.timeutil import london_date

DEFAULT_SORT = "-days_delayed"
CTR_CODELIST = "criteria-to-reside"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 5000  # a whole ward list printed at once; the RFD list has the same cap
MAX_DAYS = 10_000


# -- what the tracker offers -------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    """The discharge pathway's inpatient states (in the pathway's order, each with its
    description) and planned pathways: what the state and pathway filters accept."""

    states: dict[str, str]
    pathways: tuple[str, ...]


def vocabulary(catalogue: PathwayCatalogue) -> Vocabulary:
    """Inpatient states are those reached from the pathway's first state without leaving
    hospital (a discharge, a death or a transfer) or ending the case, across every version of
    the pathway, in the newest version's order."""
    states: dict[str, str] = {}
    pathways: dict[str, None] = {}
    for version in sorted(catalogue.versions(WORKFLOW), reverse=True):
        loaded = catalogue.get(WORKFLOW, version)
        if loaded is None:
            continue
        spec = loaded.spec
        reached, todo = {spec.initial}, [spec.initial]
        while todo:
            for t in spec.transitions_from(todo.pop()):
                dest = t.dest
                if dest is None or dest in reached or t.trigger in LEAVES_HOSPITAL:
                    continue
                if not spec.state(dest).final:
                    reached.add(dest)
                    todo.append(dest)
        for state in spec.states:
            if state.name in reached and state.name not in states:
                states[state.name] = state.description or state.name
        field = spec.fields.get("pathway")
        for choice in (field.choices or ()) if field else ():
            pathways[str(choice)] = None
    return Vocabulary(states, tuple(pathways))


@dataclass(frozen=True)
class TrackerQuery:
    """Filters, sort and page of the tracker. `sort` is a key of `SORT_KEYS`, with a leading
    '-' for descending; empty values sort last either way, ties by case id."""

    site: str | None = None
    ward: str | None = None
    pathway: str | None = None  # a planned pathway, or "none" for none planned yet
    state: str | None = None
    escalated: bool | None = None
    min_days: int | None = None  # days since the discharge-ready date, at least
    max_days: int | None = None  # and at most
    sort: str = DEFAULT_SORT
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def check(self, vocab: Vocabulary) -> None:
        """Raise `ValidationFailed` (422) naming every bad value and what is accepted."""
        problems: dict[str, Any] = {}
        if self.sort_key not in SORT_KEYS:
            problems["sort"] = {"given": self.sort, "accepted": list(SORT_KEYS)}
        if self.state is not None and self.state not in vocab.states:
            problems["state"] = {"given": self.state, "accepted": list(vocab.states)}
        accepted_pathways = [*vocab.pathways, NO_PATHWAY]
        if self.pathway is not None and self.pathway not in accepted_pathways:
            problems["pathway"] = {"given": self.pathway, "accepted": accepted_pathways}
        for name in ("min_days", "max_days"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_DAYS:
                problems[name] = {"given": value, "accepted": f"0 to {MAX_DAYS}"}
        if not 1 <= self.page <= 1_000_000:
            problems["page"] = {"given": self.page, "accepted": "1 or more"}
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            problems["page_size"] = {"given": self.page_size, "accepted": f"1 to {MAX_PAGE_SIZE}"}
        if problems:
            raise ValidationFailed(
                "bad tracker filter: " + ", ".join(sorted(problems)), problems=problems
            )

    def filters(self, today: date) -> Filters:
        day = today.toordinal()
        return Filters(
            site=self.site,
            ward=self.ward,
            pathway=self.pathway,
            state=self.state,
            escalated=self.escalated,
            drd_on_or_before=day - self.min_days if self.min_days is not None else None,
            drd_on_or_after=day - self.max_days if self.max_days is not None else None,
        )


# -- what it shows -----------------------------------------------------------------------------
class TrackerDelay(BaseModel):
    code: str
    label: str | None
    started_at: datetime
    marked_primary: bool


class TrackerCriterion(BaseModel):
    """A criterion to reside the patient was last recorded as meeting (national list, U1)."""

    code: str
    label: str | None


class TrackerRow(BaseModel):
    case_id: int
    patient_ref: str | None
    site: str | None
    ward: str | None
    state: str
    meets_criteria: bool
    # Which criteria the patient meets, when recorded with `meets_ctr_again` (empty otherwise,
    # and always empty while the patient does not meet the criteria).
    criteria_met: list[TrackerCriterion] = []
    not_meeting_since: datetime | None
    discharge_ready_date: date | None
    days_delayed: int | None
    planned_pathway: str | None
    delays: list[TrackerDelay]
    expected_discharge_date: date | None
    responsible_person: str | None
    escalated: bool
    escalation_reason: str | None


class TrackerPage(BaseModel):
    as_of: datetime
    count: int
    page: int
    page_size: int
    sort: str
    rows: list[TrackerRow]

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))


class OptionCount(BaseModel):
    value: str
    count: int


class WardOption(BaseModel):
    site: str | None
    ward: str
    count: int


class TrackerOptions(BaseModel):
    """The values present in the caller's scope, each with its number of inpatients."""

    total: int
    sites: list[OptionCount]
    wards: list[WardOption]
    states: list[OptionCount]
    pathways: list[OptionCount]


# -- use cases ---------------------------------------------------------------------------------
def tracker_page(
    session: Session,
    query: TrackerQuery,
    *,
    organisation: str,
    grant: Grant,
    vocab: Vocabulary,
    codes: CodeSetRegistry,
    now: datetime,
) -> TrackerPage:
    """One page of the tracker as `grant` may see it, with the count of every matching row."""
    query.check(vocab)
    today = london_date(now)
    repo = TrackerRepository(session)
    found = repo.page(
        Scope(organisation, grant.shared_only),
        filters=query.filters(today),
        order=Order(query.sort_key, query.descending, tuple(vocab.states)),
        limit=query.page_size,
        offset=(query.page - 1) * query.page_size,
    )
    delays = repo.open_delays([r["case_id"] for r in found.rows])
    label = _labeller(codes)
    criterion = _criterion_labeller(codes)
    rows = [_row(r, delays.get(r["case_id"], []), label, criterion, today) for r in found.rows]
    page = TrackerPage(
        as_of=now,
        count=found.count,
        page=query.page,
        page_size=query.page_size,
        sort=query.sort,
        rows=rows,
    )
    return grant.reduce(page)


def tracker_options(
    session: Session, *, organisation: str, grant: Grant, vocab: Vocabulary
) -> TrackerOptions:
    """Sites, wards, states and planned pathways present among the inpatients in scope."""
    groups = TrackerRepository(session).groups(Scope(organisation, grant.shared_only))
    sites: dict[str, int] = {}
    wards: dict[tuple[str | None, str], int] = {}
    states: dict[str, int] = {}
    pathways: dict[str, int] = {}
    for site, ward, state, pathway, n in groups:
        if site is not None:
            sites[site] = sites.get(site, 0) + n
        if ward is not None:
            wards[(site, ward)] = wards.get((site, ward), 0) + n
        states[state] = states.get(state, 0) + n
        key = pathway if pathway is not None else NO_PATHWAY
        pathways[key] = pathways.get(key, 0) + n
    state_order = {s: i for i, s in enumerate(vocab.states)}
    pathway_order = {p: i for i, p in enumerate([*vocab.pathways, NO_PATHWAY])}
    return TrackerOptions(
        total=sum(n for *_, n in groups),
        sites=[OptionCount(value=s, count=n) for s, n in sorted(sites.items())],
        wards=[
            WardOption(site=s, ward=w, count=n)
            for (s, w), n in sorted(wards.items(), key=lambda item: (item[0][0] or "", item[0][1]))
        ],
        states=[
            OptionCount(value=s, count=n)
            for s, n in sorted(states.items(), key=lambda i: (state_order.get(i[0], 99), i[0]))
        ],
        pathways=[
            OptionCount(value=p, count=n)
            for p, n in sorted(pathways.items(), key=lambda i: (pathway_order.get(i[0], 99), i[0]))
        ],
    )


def _labeller(codes: CodeSetRegistry) -> Callable[[str, datetime], str | None]:
    labels = DelayLabels(codes)
    cache: dict[tuple[str, date], str | None] = {}

    def label(code: str, at: datetime) -> str | None:
        key = (code, london_date(at))
        if key not in cache:
            cache[key] = labels.entry(code, at)[0]
        return cache[key]

    return label


def _criterion_labeller(codes: CodeSetRegistry) -> Callable[[str, date], str | None]:
    def label(code: str, on: date) -> str | None:
        try:
            entry = codes.lookup(CTR_CODELIST, code, on)
        except CodeSetNotFound:
            return None
        return entry.label if entry is not None else None

    return label


def _criteria(
    r: dict[str, Any], label: Callable[[str, date], str | None], today: date
) -> list[TrackerCriterion]:
    """The criteria recorded when the patient last met the criteria again, labelled from the
    list in force that day (the end of their last NCTR period)."""
    met = r.get("ctr_criteria_met")
    if not isinstance(met, list):
        return []
    on = london_date(r["nctr_last_end"]) if r["nctr_last_end"] is not None else today
    return [TrackerCriterion(code=str(c), label=label(str(c), on)) for c in met]


def _row(
    r: dict[str, Any],
    delays: list[OpenDelay],
    label: Callable[[str, datetime], str | None],
    criterion: Callable[[str, date], str | None],
    today: date,
) -> TrackerRow:
    not_meeting = r["nctr_last_start"] if r["nctr_last_end"] is None else None
    drd = date.fromordinal(r["drd_day"]) if r["drd_day"] is not None else None
    edd = r["expected_discharge_date"]
    return TrackerRow(
        case_id=r["case_id"],
        patient_ref=r["patient_ref"],
        site=r["site"],
        ward=r["ward"],
        state=r["state"],
        meets_criteria=not_meeting is None,
        criteria_met=_criteria(r, criterion, today) if not_meeting is None else [],
        not_meeting_since=not_meeting,
        discharge_ready_date=drd,
        # A DRD of today is a real 0 (no delay yet), as on the Ready-for-Discharge list.
        days_delayed=max((today - drd).days, 0) if drd else None,
        planned_pathway=r["planned_pathway"],
        delays=[
            TrackerDelay(
                code=d.code,
                label=label(d.code, d.started_at),
                started_at=d.started_at,
                marked_primary=d.marked_primary,
            )
            for d in delays
        ],
        expected_discharge_date=date.fromisoformat(edd) if edd else None,
        responsible_person=r["responsible_person"],
        escalated=bool(r["escalated"]),
        escalation_reason=r["escalation_reason"] if r["escalated"] else None,
    )
