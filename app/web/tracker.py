"""The discharge team's tracker at /tracker: every inpatient with an open discharge case the
person's organisation may see, filterable, sortable and a page at a time, with a count, the
Ready-for-Discharge list's CSV and a print view (`?print=1`, every matching row).

Addresses are the filters themselves (a GET form), so a ward's view can be bookmarked and
shared. The page applies the person's grant of `rfd.read`, as `GET /api/v1/rfd` does: the same
rows, without NHS numbers for a `no_identifiers` grant. Every view is written to the access
audit with the cases it showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api_shared import log_read
from app.auth.access import Grant
from app.deps import CodesDep, EngineDep, SessionDep
from app.discharge import service as rfd_service
from app.discharge.config import DischargeConfig
from app.discharge.rfd_csv import rfd_csv
from app.discharge.tracker import (
    DEFAULT_SORT,
    MAX_PAGE_SIZE,
    TrackerOptions,
    TrackerPage,
    TrackerQuery,
    TrackerRow,
    Vocabulary,
    tracker_options,
    tracker_page,
    vocabulary,
)
from app.discharge.tracker_repository import NO_PATHWAY
from app.errors import ValidationFailed
from app.timeutil import LONDON, london_date, utcnow
from app.web.access import PageUser, page_needs
from app.web.templating import PAGE_HEADERS, render

router = APIRouter(prefix="/tracker", include_in_schema=False)
PAGE_SIZE = 50
# The table's columns: heading and the sort key its heading link sets (None: not sortable).
COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("Patient", "case_id"),
    ("Site", "site"),
    ("Ward", "ward"),
    ("State", "state"),
    ("Criteria to reside", "not_meeting_since"),
    ("Discharge-ready date", "discharge_ready_date"),
    ("Days delayed", "days_delayed"),
    ("Planned pathway", "planned_pathway"),
    ("Open delay reasons", "delays"),
    ("Expected discharge", "expected_discharge_date"),
    ("Responsible person", "responsible_person"),
    ("Escalated", "escalated"),
)
# Keys whose first click sorts the largest first: the longest waits, the most reasons, the
# escalated patients at the top.
DESCENDING_FIRST = frozenset({"days_delayed", "delays", "escalated"})
FILTER_NAMES = ("site", "ward", "pathway", "state", "escalated", "min_days", "max_days")

Text = Annotated[str | None, Query(max_length=64)]
Short = Annotated[str | None, Query(max_length=16)]


@router.get("", response_class=HTMLResponse)
def tracker(
    request: Request,
    user: Annotated[PageUser, page_needs("rfd.read")],
    db: SessionDep,
    engine: EngineDep,
    codes: CodesDep,
    site: Text = None,
    ward: Text = None,
    pathway: Short = None,
    state: Text = None,
    escalated: Short = None,
    min_days: Short = None,
    max_days: Short = None,
    sort: Annotated[str | None, Query(max_length=40)] = None,
    page: Short = None,
    print_view: Annotated[str | None, Query(alias="print", max_length=1)] = None,
) -> Response:
    grant = _grant(user)
    vocab = vocabulary(engine.catalogue)
    printing = print_view == "1"
    try:
        query = _query(
            {
                "site": site,
                "ward": ward,
                "pathway": pathway,
                "state": state,
                "escalated": escalated,
                "min_days": min_days,
                "max_days": max_days,
                "sort": sort,
                "page": None if printing else page,
            },
            page_size=MAX_PAGE_SIZE if printing else PAGE_SIZE,
        )
        query.check(vocab)
    except ValidationFailed as refused:
        return _refused(request, user, refused)
    now = utcnow()
    actor = user.actor
    found = tracker_page(
        db,
        query,
        organisation=actor.organisation,
        grant=grant,
        vocab=vocab,
        codes=codes,
        now=now,
    )
    # The print view has no filter form, so no choices to offer.
    options = (
        None
        if printing
        else tracker_options(db, organisation=actor.organisation, grant=grant, vocab=vocab)
    )
    log_read(request, db, actor, [row.case_id for row in found.rows])
    return render(
        request,
        "tracker.html",
        actor=actor,
        page_title="Tracker",
        view=_view(query, found, options, vocab, grant, now, printing),
    )


@router.get("/rfd.csv")
def ready_for_discharge_csv(
    request: Request,
    user: Annotated[PageUser, page_needs("rfd.read")],
    db: SessionDep,
    engine: EngineDep,
    codes: CodesDep,
    site: Text = None,
    ward: Text = None,
    pathway: Short = None,
    escalated: Short = None,
    min_days: Short = None,
) -> Response:
    """The Ready-for-Discharge list's CSV (as `GET /api/v1/rfd?format=csv`) with the tracker's
    filters that list has: site, ward, planned pathway, escalated and days since the DRD."""
    grant = _grant(user)
    try:
        query = _query(
            {
                "site": site,
                "ward": ward,
                "pathway": pathway,
                "escalated": escalated,
                "min_days": min_days,
            },
            page_size=PAGE_SIZE,
        )
        query.check(vocabulary(engine.catalogue))
    except ValidationFailed as refused:
        return _refused(request, user, refused)
    config: DischargeConfig = request.app.state.discharge_config
    now = utcnow()
    actor = user.actor
    result = rfd_service.rfd_list(
        db,
        catalogue=engine.catalogue,
        codes=codes,
        config=config,
        flt=rfd_service.RfdFilter(
            site=query.site,
            ward=query.ward,
            pathway=query.pathway if query.pathway != NO_PATHWAY else None,
            escalated=query.escalated,
            min_days=query.min_days,
        ),
        sort="-days_since_drd",
        now=now,
        organisation=actor.organisation,
    )
    log_read(request, db, actor, [row.case_id for row in result.items])
    result = grant.reduce(result)
    return Response(
        rfd_csv(result.items),
        media_type="text/csv; charset=utf-8",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": f'attachment; filename="rfd-{london_date(now)}.csv"',
        },
    )


def _refused(request: Request, user: PageUser, refused: ValidationFailed) -> Response:
    """A filter the tracker cannot apply: a page naming each field and what it accepts."""
    problems: dict[str, Any] = refused.extra.get("problems", {})
    details = [
        f"{name.replace('_', ' ').capitalize()}: {problem['given']!r} is not accepted "
        f"({_accepted(problem['accepted'])})."
        for name, problem in sorted(problems.items())
    ]
    return render(
        request,
        "error.html",
        actor=user.actor,
        page_title="The tracker's filters could not be read",
        details=[*details, "Change the address, or open the tracker again from your screens."],
        status_code=refused.status_code,
    )


def _accepted(accepted: Any) -> str:
    return "one of " + ", ".join(map(str, accepted)) if isinstance(accepted, list) else accepted


def _grant(user: PageUser) -> Grant:
    assert user.grant is not None  # noqa: S101 - page_needs("rfd.read") always gives one
    return user.grant


# -- reading the address -----------------------------------------------------------------------
def _query(values: Mapping[str, str | None], *, page_size: int) -> TrackerQuery:
    """The tracker query an address asks for. An empty field (a form's "any") is no filter;
    a value that is not a number or a yes/no answer is refused naming the field (422)."""
    given = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
    problems: dict[str, Any] = {}

    def number(name: str) -> int | None:
        if name not in given:
            return None
        if not given[name].isdigit():
            problems[name] = {"given": given[name], "accepted": "a whole number"}
            return None
        return int(given[name])

    page = number("page")
    answer = given.get("escalated")
    if answer is not None and answer not in ("yes", "no"):
        problems["escalated"] = {"given": answer, "accepted": ["yes", "no"]}
    query = TrackerQuery(
        site=given.get("site"),
        ward=given.get("ward"),
        pathway=given.get("pathway"),
        state=given.get("state"),
        escalated=None if answer not in ("yes", "no") else answer == "yes",
        min_days=number("min_days"),
        max_days=number("max_days"),
        sort=given.get("sort", DEFAULT_SORT),
        page=1 if page is None else page,
        page_size=page_size,
    )
    if problems:
        raise ValidationFailed(
            "bad tracker filter: " + ", ".join(sorted(problems)), problems=problems
        )
    return query


def _params(query: TrackerQuery, **changes: Any) -> dict[str, str]:
    """The address's parameters for `query` with `changes`, defaults left out."""
    values: dict[str, Any] = {name: getattr(query, name) for name in FILTER_NAMES}
    values["sort"] = query.sort
    values["page"] = query.page
    values.update(changes)
    out: dict[str, str] = {}
    for name, value in values.items():
        if (
            value is None
            or (name == "sort" and value == DEFAULT_SORT)
            or (name == "page" and value == 1)
        ):
            continue
        out[name] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return out


def _url(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


# -- what the template shows -------------------------------------------------------------------
def _view(
    query: TrackerQuery,
    found: TrackerPage,
    options: TrackerOptions | None,
    vocab: Vocabulary,
    grant: Grant,
    now: datetime,
    printing: bool,
) -> dict[str, Any]:
    first = (found.page - 1) * found.page_size + 1 if found.rows else 0
    csv_params = {
        k: v
        for k, v in _params(query, sort=DEFAULT_SORT, page=1).items()
        if k in ("site", "ward", "pathway", "escalated", "min_days")
        and not (k == "pathway" and v == NO_PATHWAY)
    }
    return {
        "query": query,
        "found": found,
        "identifiers": grant.identifiers,
        "as_of": _when(now),
        "first": first,
        "last": first + len(found.rows) - 1 if found.rows else 0,
        "printing": printing,
        "headings": [_heading(query, title, key) for title, key in COLUMNS],
        "rows": [_row_view(row, vocab) for row in found.rows],
        "filters": _filter_fields(query, options, vocab) if options is not None else {},
        "filtered": any(getattr(query, name) is not None for name in FILTER_NAMES),
        "pagination": None if printing else _pagination(query, found),
        "csv_url": _url("/tracker/rfd.csv", csv_params),
        "print_url": _url("/tracker", {**_params(query, page=1), "print": "1"}),
        "back_url": _url("/tracker", _params(query, page=1)),
        "clear_url": _url("/tracker", _params(TrackerQuery(sort=query.sort))),
        "summary": _filter_summary(query, vocab),
    }


def _heading(query: TrackerQuery, title: str, key: str | None) -> dict[str, Any]:
    if key is None:
        return {"title": title, "href": None, "aria_sort": None}
    current = query.sort_key == key
    if current:
        descending = not query.descending
    else:
        descending = key in DESCENDING_FIRST
    sort = ("-" if descending else "") + key
    return {
        "title": title,
        "href": _url("/tracker", _params(query, sort=sort, page=1)),
        "aria_sort": ("descending" if query.descending else "ascending") if current else None,
        "action": f"sort {'largest' if descending else 'smallest'} first"
        if key in ("days_delayed", "delays")
        else f"sort {'descending' if descending else 'ascending'}",
    }


def _pagination(query: TrackerQuery, found: TrackerPage) -> dict[str, Any] | None:
    if found.pages <= 1:
        return None
    here = min(found.page, found.pages)
    numbers = sorted({1, here - 1, here, here + 1, found.pages} & set(range(1, found.pages + 1)))
    items: list[dict[str, Any]] = []
    for i, n in enumerate(numbers):
        if i and n - numbers[i - 1] > 1:
            items.append({"ellipsis": True})
        items.append(
            {
                "number": n,
                "href": _url("/tracker", _params(query, page=n)),
                "current": n == found.page,
            }
        )
    out: dict[str, Any] = {"items": items}
    if found.page > 1:
        out["previous"] = {"href": _url("/tracker", _params(query, page=min(here, found.page - 1)))}
    if found.page < found.pages:
        out["next"] = {"href": _url("/tracker", _params(query, page=found.page + 1))}
    return out


def _filter_fields(
    query: TrackerQuery, options: TrackerOptions, vocab: Vocabulary
) -> dict[str, list[dict[str, Any]]]:
    def items(
        pairs: list[tuple[str, str]], chosen: str | None, anything: str
    ) -> list[dict[str, Any]]:
        values = [v for v, _ in pairs]
        if chosen is not None and chosen not in values:  # a bookmark from another day
            pairs = [*pairs, (chosen, f"{chosen} (none now)")]
        return [{"value": "", "text": anything, "selected": chosen is None}] + [
            {"value": v, "text": text, "selected": v == chosen} for v, text in pairs
        ]

    wards: dict[str, int] = {}
    for w in options.wards:
        if query.site is None or w.site == query.site:
            wards[w.ward] = wards.get(w.ward, 0) + w.count
    present_states = {o.value: o.count for o in options.states}
    present_pathways = {o.value: o.count for o in options.pathways}
    escalated = None if query.escalated is None else ("yes" if query.escalated else "no")
    return {
        "site": items(
            [(o.value, f"{o.value} ({o.count})") for o in options.sites], query.site, "Any site"
        ),
        "ward": items(
            [(w, f"{w} ({n})") for w, n in sorted(wards.items())], query.ward, "Any ward"
        ),
        "state": items(
            [(s, f"{_state_label(s)} ({present_states.get(s, 0)})") for s in vocab.states],
            query.state,
            "Any state",
        ),
        "pathway": items(
            [
                (p, f"{_pathway_label(p)} ({present_pathways.get(p, 0)})")
                for p in [*vocab.pathways, NO_PATHWAY]
            ],
            query.pathway,
            "Any pathway",
        ),
        "escalated": items([("yes", "Escalated"), ("no", "Not escalated")], escalated, "Either"),
    }


def _filter_summary(query: TrackerQuery, vocab: Vocabulary) -> list[str]:
    out = []
    if query.site:
        out.append(f"site {query.site}")
    if query.ward:
        out.append(f"ward {query.ward}")
    if query.state and query.state in vocab.states:
        out.append(_state_label(query.state).lower())
    if query.pathway:
        out.append(_pathway_label(query.pathway).lower())
    if query.escalated is not None:
        out.append("escalated" if query.escalated else "not escalated")
    if query.min_days is not None:
        out.append(f"at least {query.min_days} days since the discharge-ready date")
    if query.max_days is not None:
        out.append(f"at most {query.max_days} days since the discharge-ready date")
    return out


@dataclass(frozen=True, slots=True)
class RowView:
    """One table row as shown. A class rather than a dict: the template reads a dozen fields
    of each of up to thousands of rows, and Jinja finds an attribute at once where a dict
    key is its second try."""

    href: str
    case_id: int
    nhs_number: str | None
    site: str
    ward: str
    state: str
    criteria: str
    drd: str
    days_delayed: str
    pathway: str
    delays: list[str]
    expected: str
    responsible: str
    escalated: bool
    escalation_reason: str


def _row_view(row: TrackerRow, vocab: Vocabulary) -> RowView:
    return RowView(
        href=f"/tracker/cases/{row.case_id}",
        case_id=row.case_id,
        nhs_number=_nhs(row.patient_ref),
        site=row.site or "",
        ward=row.ward or "",
        state=_state_label(row.state) if row.state in vocab.states else row.state,
        criteria=_criteria(row),
        drd=_day(row.discharge_ready_date),
        days_delayed="" if row.days_delayed is None else str(row.days_delayed),
        pathway=row.planned_pathway or "Not set",
        delays=[
            (d.label or d.code) + (" (primary)" if d.marked_primary else "") for d in row.delays
        ],
        expected=_day(row.expected_discharge_date),
        responsible=row.responsible_person or "",
        escalated=row.escalated,
        escalation_reason=row.escalation_reason or "",
    )


def _criteria(row: TrackerRow) -> str:
    """ "Meets", with the criteria recorded when the patient last met them again, if any."""
    if not row.meets_criteria:
        return f"Not meeting since {_when(row.not_meeting_since, year=False)}"
    met = [c.label or c.code for c in row.criteria_met]
    return "Meets: " + "; ".join(met) if met else "Meets"


def _state_label(state: str) -> str:
    return state.replace("_", " ").capitalize()


def _pathway_label(pathway: str) -> str:
    return "No pathway planned" if pathway == NO_PATHWAY else f"Pathway {pathway.removeprefix('P')}"


def _nhs(ref: str | None) -> str | None:
    if ref is None:
        return None
    return f"{ref[:3]} {ref[3:6]} {ref[6:]}" if len(ref) == 10 and ref.isdigit() else ref


# Month names by hand: strftime's %b goes through the C locale, and a printed list formats
# thousands of dates.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: date | None) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}" if value else ""


def _when(value: datetime | None, *, year: bool = True) -> str:
    """A London time as "5 Dec 2026, 14:05" (the year left out beside the date column)."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    day = f"{local.day} {MONTHS[local.month - 1]}"
    return f"{day} {local.year}, {clock}" if year else f"{day} {clock}"
