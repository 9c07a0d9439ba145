"""`/tracker/cases/{case_id}`: any workflow's case page, and recording an event from it.

The page shows the case's facts, clocks, links and timeline, and one form per event the person
may record now, built from the pathway definition (`app.web.eventforms`): a new workflow gets its
case page without new templates. Events refused now are listed with every reason.

Recording posts to `/tracker/cases/{case_id}/events/{event}` with the case version the person
read. It goes through the same use case as `POST /api/v1/cases/{id}/events` (with that version as
If-Match, scoped to the person's organisation), so every rule, role and check is the API's. If
someone else changed the case meanwhile nothing is written: the page answers 409, lists what
changed since the version read, and offers the same form, as it was filled in, against the case
as it is now. A double-click is answered once: each page carries a fresh idempotency key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.actions.schemas import ActionRead
from app.api_shared import log_read
from app.auth.access import AccessPolicy
from app.cases import service
from app.cases.schemas import NAME_PATTERN, AllowedEventRead, CaseRead, ClockRead, EventRead
from app.cases.scope import ScopeRepository
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.config import Settings
from app.db import get_db
from app.engine.catalogue import LoadedPathway
from app.engine.engine import Engine
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import (
    DomainError,
    GuardRejected,
    InvalidTransition,
    NotFound,
    StaleCase,
    ValidationFailed,
)
from app.security.inputs import MAX_ID
from app.timeutil import LONDON, london_date, utcnow
from app.web import case_actions
from app.web.access import PageUser, page_needs
from app.web.eventforms import (
    CLINICAL_TIME,
    REASON,
    EventForm,
    FieldErrors,
    ParsedEvent,
    field_label,
    form_for,
    humanise,
    parse_submission,
)
from app.web.referrals_page import referral_panel
from app.web.templating import render

router = APIRouter(include_in_schema=False)
CASE_PATH = "/tracker/cases/{case_id}"
DbDep = Annotated[Session, Depends(get_db)]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
EventName = Annotated[str, Path(pattern=NAME_PATTERN)]
# Hidden inputs of every event form besides the event's own.
VERSION = "version"
KEY = "idempotency-key"
_VERSION = re.compile(r"[1-9][0-9]{0,17}")  # as `Case.etag` writes it: fits BIGINT
_KEY = re.compile(r"[0-9a-f]{32}")
MAX_FORM_FIELDS = 300


def case_href(case_id: int) -> str:
    return CASE_PATH.format(case_id=case_id)


# -- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventChoice:
    """One event of the pathway from the case's state: a form, or why not now."""

    event: str
    title: str
    form: EventForm | None
    reasons: list[str]


@dataclass
class Submission:
    """A form sent back to the page: what was typed and what to say about it."""

    event: str
    raw: Mapping[str, str | list[str]]
    errors: dict[str, str] = field(default_factory=dict)
    # Problems that belong to no one field (a rule refused the event).
    problems: list[str] = field(default_factory=list)
    # The version the form will carry: the one the person read, or after a conflict the case's.
    version: int | None = None


@dataclass(frozen=True)
class Conflict:
    """The case changed after the person read it: what happened since."""

    read_version: int
    changes: list[EventRead] | None  # None: the person may not read the case's history
    count: int


def _spec(engine: Engine, case: CaseRead) -> LoadedPathway:
    loaded = engine.catalogue.get(case.workflow, case.workflow_version)
    if loaded is None:  # a case's pathway version is always loaded; say so rather than guess
        raise NotFound(f"pathway {case.workflow} version {case.workflow_version} is not loaded")
    return loaded


def _choices(
    engine: Engine,
    codes: CodeSetRegistry,
    case: CaseRead,
    roles: frozenset[str],
    on: date,
    submission: Submission | None,
) -> list[EventChoice]:
    """Each event from the case's state once, in the pathway's order.

    An event the person's roles allow has a form, even when a rule refuses it as things stand:
    the rules are judged on an empty form, and some turn on what is entered (changing the
    pathway needs a reason). Its reasons are shown with it. An event the pathway offers by two
    transitions (one per rule outcome) is refused only when both are."""
    spec = _spec(engine, case).spec
    grouped: dict[str, list[AllowedEventRead]] = {}
    for allowed in case.allowed_events:
        grouped.setdefault(allowed.event, []).append(allowed)
    out = []
    for event, entries in grouped.items():
        may = any(e.allowed for e in entries)
        reasons = [] if may else list(dict.fromkeys(r for e in entries for r in e.reasons))
        permitted = any(
            t.trigger == event and case.state in t.source and roles & set(t.roles)
            for t in spec.transitions
        )
        if not permitted:
            out.append(EventChoice(event, humanise(event), None, reasons))
            continue
        sent = submission if submission is not None and submission.event == event else None
        form = form_for(
            engine.catalogue,
            case.workflow,
            case.workflow_version,
            event,
            codes=codes,
            on=on,
            state=case.state,
            raw=sent.raw if sent is not None else None,
            time_policy=engine.time_policy,
        )
        out.append(EventChoice(event, form.title, form, reasons))
    return out


def _facts(spec: PathwaySpec, case: CaseRead, codes: CodeSetRegistry) -> list[tuple[str, str]]:
    state = spec.states_by_name.get(case.state)
    rows = [
        ("Pathway", f"{spec.title} (version {spec.version})"),
        (
            "State",
            humanise(case.state)
            + (f": {state.description}" if state and state.description else ""),
        ),
        ("Patient", _patient(case.patient_ref)),
        ("Organisation", case.organisation + (f", site {case.site}" if case.site else "")),
        ("Opened", when(case.opened_at)),
        ("Last changed", f"{when(case.updated_at)} (version {case.version})"),
    ]
    if case.closed_at is not None:
        rows.append(("Closed", when(case.closed_at)))
    declared = [n for n in spec.fields if n in case.attributes]
    others = sorted(n for n in case.attributes if n not in spec.fields)
    on = london_date(case.updated_at)
    for name in [*declared, *others]:
        value = case.attributes[name]
        if value is None or value == "" or value == [] or value == {}:
            continue
        declared_field = spec.fields.get(name)
        label = field_label(name, declared_field) if declared_field else humanise(name)
        rows.append((label, show_value(declared_field, value, codes, on)))
    return rows


def _current(spec: PathwaySpec, case: CaseRead, codes: CodeSetRegistry) -> dict[str, str]:
    """Each recorded field's value in words, shown beside its input. Forms are not filled in
    with them: an event records what the person entered, never a value they only saw."""
    on = london_date(case.updated_at)
    return {
        name: show_value(spec.fields[name], value, codes, on)
        for name, value in case.attributes.items()
        if name in spec.fields and value is not None and value != ""
    }


def _patient(ref: str | None) -> str:
    if ref is None:
        return "Not recorded"
    if len(ref) == 10 and ref.isdigit():
        return f"{ref[:3]} {ref[3:6]} {ref[6:]}"
    return ref


def show_value(spec: FieldSpec | None, value: Any, codes: CodeSetRegistry, on: date) -> str:
    """A recorded value in words: a code with its label, a date as people write it."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if spec is not None and spec.type == "code" and isinstance(value, str):
        try:
            entry = codes.lookup(str(spec.codelist), value, on)
        except CodeSetNotFound:
            entry = None
        return f"{entry.label} ({value})" if entry is not None else value
    if spec is not None and spec.type == "codes" and isinstance(value, list):
        return "; ".join(
            show_value(spec.model_copy(update={"type": "code"}), v, codes, on) for v in value
        )
    if spec is not None and spec.type == "enum" and isinstance(value, str):
        return spec.labels.get(value) or humanise(value)
    if spec is not None and spec.type in ("date", "datetime") and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return when(parsed) if spec.type == "datetime" else day_text(parsed.date())
    if isinstance(value, list):
        return ", ".join(show_value(None, v, codes, on) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{humanise(str(k))}: {show_value(None, v, codes, on)}" for k, v in value.items()
        )
    return str(value)


def day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def when(at: datetime) -> str:
    """An instant as UK local time: `14 March 2026, 09:30`."""
    if at.tzinfo is None:
        return f"{day_text(at.date())}, {at:%H:%M}"
    local = at.astimezone(LONDON)
    return f"{day_text(local.date())}, {local:%H:%M}"


def span(delta: timedelta) -> str:
    """A duration in the two largest units: `2 days 3 hours`, `45 minutes`."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (mins, "minute")]
    shown = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n][:2]
    return " ".join(shown) or "less than a minute"


@dataclass(frozen=True)
class ClockView:
    name: str
    description: str
    status: str
    colour: str
    detail: str


def _clocks(spec: PathwaySpec, clocks: list[ClockRead], now: datetime) -> list[ClockView]:
    described = {c.name: c.description for c in spec.clocks}
    out = []
    for c in clocks:
        left = timedelta(seconds=c.budget_seconds - c.consumed_seconds)
        if c.overdue:
            status, colour = "Overdue", "red"
            late = (now - c.due_at) if c.due_at and c.state == "running" else -left
            detail = f"Overdue by {span(late)}; due {when(c.due_at)}" if c.due_at else "Overdue"
        elif c.state == "running":
            status, colour = "Running", "blue"
            due = c.due_at
            remaining = (due - now) if due is not None else left
            detail = f"{span(remaining)} left; due {when(due)}" if due else f"{span(left)} left"
        elif c.state == "paused":
            status, colour = "Paused", "grey"
            detail = f"{span(left)} left when it resumes"
        else:
            status, colour = humanise(c.state), "green"
            detail = f"Took {span(timedelta(seconds=c.consumed_seconds))}"
        if c.warned_at is not None and not c.overdue and c.state == "running":
            status, colour = "Warning", "orange"
        title = humanise(c.name) + (f" (cycle {c.cycle})" if c.cycle > 1 else "")
        out.append(ClockView(title, described.get(c.name, ""), status, colour, detail))
    return out


def _timeline(
    spec: PathwaySpec, events: list[EventRead], codes: CodeSetRegistry
) -> list[dict[str, Any]]:
    """The history newest first, with the data each event recorded in words."""
    out = []
    for e in reversed(events):
        on = london_date(e.occurred_at)
        data = [
            (
                field_label(k, spec.fields[k]) if k in spec.fields else humanise(k),
                show_value(spec.fields.get(k), v, codes, on),
            )
            for k, v in e.data.items()
            if not k.startswith("_")
        ]
        moved = e.from_state is not None and e.from_state != e.to_state
        out.append(
            {
                "seq": e.seq,
                "what": "Opened" if e.event == "open" else humanise(e.event),
                "states": f"{humanise(e.from_state or '')} to {humanise(e.to_state)}"
                if moved
                else "",
                "who": f"{e.actor.username} ({humanise(e.actor.role)}, {e.actor.organisation})",
                "occurred": when(e.occurred_at),
                "recorded": when(e.recorded_at),
                "backdated": e.backdated,
                "reason": e.reason,
                "data": data,
            }
        )
    return out


# -- the routes ------------------------------------------------------------------------------


@router.get(CASE_PATH)
def case_page(
    request: Request,
    case_id: CaseId,
    user: Annotated[PageUser, page_needs("cases.read")],
    db: DbDep,
    recorded: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
) -> Response:
    """The case as the person may see it, with a form for each event they may record."""
    try:
        return _page(request, db, user, case_id, recorded=recorded)
    except NotFound:
        return _not_found(request, user)


async def submitted_form(request: Request) -> dict[str, list[str]]:
    """The posted form's text values, every value of each name (a file is no text: dropped)."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    values: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values


@router.post(CASE_PATH + "/events/{event}")
def record_event(
    request: Request,
    case_id: CaseId,
    event: EventName,
    user: Annotated[PageUser, page_needs("cases.read")],
    db: DbDep,
    raw: Annotated[dict[str, list[str]], Depends(submitted_form)],
) -> Response:
    """Record `event` from its form: 303 back to the page when it is recorded; else the page
    again with what to correct (422), what refused it (409, 403), or what changed (409)."""
    actor = user.actor
    engine: Engine = request.app.state.engine
    try:
        _require_scope(db, user, case_id)
        case, _etag = service.get_case(
            db, engine=engine, actor=actor, case_id=case_id, now=utcnow()
        )
    except NotFound:
        return _not_found(request, user)
    read_version = _one_value(raw, VERSION, _VERSION)
    submission = Submission(event, raw)
    if read_version is None:
        submission.problems.append(
            "The form did not say which version of the case you read. "
            "Check the case as it is now and submit again."
        )
        submission.version = case.version
        return _page(request, db, user, case_id, submission=submission, status_code=422)
    submission.version = int(read_version)
    try:
        form = _form_to_read(engine, request.app.state.codes, case, event)
    except NotFound:
        return _not_found(request, user)
    parsed = parse_submission(form, raw)
    if isinstance(parsed, FieldErrors):
        submission.errors = parsed.errors
        return _page(request, db, user, case_id, submission=submission, status_code=422)
    return _fire(request, db, user, case_id, form, parsed, submission)


def _fire(
    request: Request,
    db: Session,
    user: PageUser,
    case_id: int,
    form: EventForm,
    parsed: ParsedEvent,
    submission: Submission,
) -> Response:
    settings: Settings = request.app.state.settings
    key = _one_value(submission.raw, KEY, _KEY)
    try:
        service.fire_event(
            db,
            writer=request.app.state.writer,
            actor=user.actor,
            case_id=case_id,
            body=parsed.event_create(),
            if_match=f'"{submission.version}"',
            idempotency_key=f"page-{key}" if key else None,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
            visible_to=user.actor.organisation,
        )
    except StaleCase:
        read = submission.version or 0
        return _page(
            request, db, user, case_id, submission=submission, conflict_from=read, status_code=409
        )
    except ValidationFailed as exc:
        _explain_invalid(exc, _spec_of(request, form), form, submission)
        return _page(request, db, user, case_id, submission=submission, status_code=422)
    except (GuardRejected, InvalidTransition) as exc:
        reasons = exc.extra.get("reasons")
        submission.problems += (
            [str(r) for r in reasons] if isinstance(reasons, list) and reasons else [exc.detail]
        )
        return _page(request, db, user, case_id, submission=submission, status_code=409)
    except NotFound:
        return _not_found(request, user)
    except DomainError as exc:  # not permitted (403), a reused key (422)
        submission.problems.append(_sentence(exc.detail))
        return _page(request, db, user, case_id, submission=submission, status_code=exc.status_code)
    return RedirectResponse(f"{case_href(case_id)}?recorded={parsed.event}", status_code=303)


def _explain_invalid(
    exc: ValidationFailed, spec: PathwaySpec, form: EventForm, submission: Submission
) -> None:
    """The engine's reasons next to the fields they are about, in words."""
    if exc.code == "invalid_time":
        target, message = _time_problem(exc, spec)
        submission.errors[target] = message
        return
    labels = {f.name: f.label for f in form.fields}
    errors = exc.extra.get("errors")
    for item in errors if isinstance(errors, list) else []:
        name = str(item.get("field", "")) if isinstance(item, dict) else ""
        problem = str(item.get("problem", "")) if isinstance(item, dict) else ""
        if name in labels:
            text = "is needed" if problem == "required" else problem
            submission.errors.setdefault(name, f"{labels[name]} {text}")
        else:
            submission.problems.append(_sentence(f"{humanise(name)} {problem}"))
    if not submission.errors and not submission.problems:
        submission.problems.append(_sentence(exc.detail))


def _time_problem(exc: ValidationFailed, spec: PathwaySpec) -> tuple[str, str]:
    """The engine's clinical-time rules (app/engine/timerules.py) in words, on the input."""
    if "needs a reason" in exc.detail:
        return REASON, "Enter why this is recorded after it happened"
    if "in the future" in exc.detail:
        return CLINICAL_TIME, "The time it happened must be now or in the past"
    not_before = exc.extra.get("not_before")
    found = re.search(r"before (.+)$", exc.detail)
    if isinstance(not_before, str) and found:
        what = found.group(1).replace("'", "")
        floor = spec.fields.get(what)
        what = field_label(what, floor).lower() if floor is not None else what
        try:
            limit = when(datetime.fromisoformat(not_before))
        except ValueError:
            limit = not_before
        return CLINICAL_TIME, f"The time it happened must not be before {limit} ({what})"
    return CLINICAL_TIME, _sentence(exc.detail.replace("occurred_at", "the time it happened"))


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".")


def _one_value(
    raw: Mapping[str, str | list[str]], name: str, pattern: re.Pattern[str]
) -> str | None:
    value = raw.get(name)
    values = [value] if isinstance(value, str) else list(value or [])
    if len(values) != 1 or not pattern.fullmatch(values[0]):
        return None
    return values[0]


def _spec_of(request: Request, form: EventForm) -> PathwaySpec:
    engine: Engine = request.app.state.engine
    loaded = engine.catalogue.get(form.workflow, form.version)
    assert loaded is not None  # noqa: S101 - the form was built from this pathway version
    return loaded.spec


def _form_to_read(engine: Engine, codes: CodeSetRegistry, case: CaseRead, event: str) -> EventForm:
    """The event's form as it reads a submission: from the case's state when the event leaves
    it; otherwise the event's fields from any state (the engine then refuses the event itself,
    or the version check finds the case has moved on)."""
    loaded = _spec(engine, case)
    leaves = any(t.trigger == event and case.state in t.source for t in loaded.spec.transitions)
    return form_for(
        engine.catalogue,
        case.workflow,
        case.workflow_version,
        event,
        codes=codes,
        on=london_date(utcnow()),
        state=case.state if leaves else None,
        time_policy=engine.time_policy,
    )


def _require_scope(db: Session, user: PageUser, case_id: int) -> None:
    """As the API: a case the person's organisation neither owns nor shares is not found, and
    a `shared_only` grant sees only the cases shared with it."""
    scope = ScopeRepository(db)
    organisation = user.actor.organisation
    if not scope.is_visible(case_id, organisation):
        raise NotFound(f"case {case_id} not found")
    if (
        user.grant is not None
        and user.grant.shared_only
        and not scope.is_shared_with(case_id, organisation)
    ):
        raise NotFound(f"case {case_id} not found")
    db.rollback()  # end the check's read; the use cases run their own transactions


def _page(
    request: Request,
    db: Session,
    user: PageUser,
    case_id: int,
    *,
    recorded: str | None = None,
    submission: Submission | None = None,
    conflict_from: int | None = None,
    status_code: int = 200,
) -> Response:
    actor = user.actor
    engine: Engine = request.app.state.engine
    codes: CodeSetRegistry = request.app.state.codes
    access: AccessPolicy = request.app.state.access
    now = utcnow()
    _require_scope(db, user, case_id)
    case, _etag = service.get_case(db, engine=engine, actor=actor, case_id=case_id, now=now)
    spec = _spec(engine, case).spec
    may_read_history = access.grant("cases.history", actor.roles) is not None
    history = service.history(db, case_id=case_id) if may_read_history else None
    conflict = None
    if conflict_from is not None:
        changes = [e for e in history if e.seq > conflict_from] if history is not None else None
        conflict = Conflict(conflict_from, changes, case.version - conflict_from)
        assert submission is not None  # noqa: S101 - a conflict is always about a submission
        submission.version = case.version  # re-apply against the case as it is now
    log_read(request, db, actor, [case_id])
    actions = case_actions.listed(db, access, actor, spec, case_id, now)
    choices = [
        c
        for c in _choices(engine, codes, case, actor.roles, london_date(now), submission)
        if c.event not in case_actions.RECORDED_ELSEWHERE
    ]
    if actions is not None:
        choices = [_offering_actions(c, actions.items) for c in choices]
    error_list = _error_list(choices, submission)
    title = f"{spec.title}: case {case.id}"
    return render(
        request,
        "case.html",
        actor=actor,
        page_title=("Error: " if error_list else "") + title,
        heading=title,
        case=case,
        facts=_facts(spec, case, codes),
        current=_current(spec, case, codes),
        clocks=_clocks(spec, case.clocks, now),
        links=case.links,
        actions=[case_actions.view(a) for a in actions.items] if actions is not None else None,
        referrals=referral_panel(request, db, actor, case),
        timeline=_timeline(spec, history, codes) if history is not None else None,
        choices=choices,
        submission=submission,
        errors=submission.errors if submission else {},
        error_list=error_list,
        conflict=conflict,
        conflict_changes=_timeline(spec, conflict.changes, codes)
        if conflict and conflict.changes
        else [],
        recorded=humanise(recorded) if recorded and recorded in spec.triggers() else None,
        version=submission.version if submission and submission.version else case.version,
        key=uuid.uuid4().hex,
        case_href=case_href,
        humanise=humanise,
        when=when,
        names={"clinical_time": CLINICAL_TIME, "reason": REASON, "version": VERSION, "key": KEY},
        status_code=status_code,
    )


def _offering_actions(choice: EventChoice, actions: list[ActionRead]) -> EventChoice:
    if choice.form is None:
        return choice
    form = case_actions.with_action_refs(choice.form, actions)
    if isinstance(form, str):
        return EventChoice(choice.event, choice.title, None, [form])
    return replace(choice, form=form)


def _error_list(choices: list[EventChoice], submission: Submission | None) -> list[dict[str, str]]:
    """The error summary: each message links to its input (or to the event's form)."""
    if submission is None:
        return []
    chosen = next((c for c in choices if c.event == submission.event), None)
    anchors = chosen.form.anchors if chosen and chosen.form else {}
    whole = f"event-{submission.event}"
    listed = [
        {"text": message, "href": f"#{anchors.get(name, whole)}"}
        for name, message in submission.errors.items()
    ]
    return listed + [{"text": p, "href": f"#{whole}"} for p in submission.problems]


def _not_found(request: Request, user: PageUser) -> Response:
    return render(
        request,
        "case_not_found.html",
        actor=user.actor,
        page_title="Case not found",
        status_code=404,
    )
