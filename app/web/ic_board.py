"""`/ic/board`: the intermediate-care coordinators' board.

The organisation's services with their capacity, occupancy and free places; the waiting list
in the API's priority order with each person's 2-hour and 2-day clocks; the open episodes in
each service with their clocks (2-hour response, 2-day start, 6 weeks) and days in service;
and the forms to start an episode in a service, move it to another service or model, and end
it. Every read is the API's own (app.ic.board over app.ic.service) and every change goes
through the transition entry point as `POST /cases/{id}/events` does
(app.cases.service.fire_event), naming the case version the person read, so a change made by
someone else in between is refused (412) and shown, never overwritten.

Who sees the board: the read `ic.occupancy` (who holds a service's places), the narrowest of
the reads it shows; the waiting list also needs `ic.waiting_list`. The forms are shown to the
roles the pathway lets fire the events (pathways/intermediate_care.yaml); the engine checks
again on every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.auth.access import AccessPolicy
from app.auth.actor import Actor
from app.cases import service as cases
from app.cases.schemas import EventCreate
from app.deps import EngineDep, SessionDep, SettingsDep, WriterDep
from app.engine.engine import Engine
from app.errors import DomainError
from app.ic import board
from app.ic import service as ic
from app.ic.config import MODELS, ic_config
from app.ic.episode import LABELS, WORKFLOW
from app.ic.schemas import ServiceRead
from app.security.inputs import MAX_ID
from app.timeutil import utcnow
from app.web import ic_view
from app.web.access import PageUser, page_needs
from app.web.ic_refusals import VERB, Action, Refusal, refusal_for
from app.web.templating import render

router = APIRouter(include_in_schema=False)
READ = "ic.occupancy"
BoardUser = Annotated[PageUser, page_needs(READ)]
DONE = frozenset({"started", "moved", "ended"})
ModelQuery = Annotated[str | None, Query(max_length=40)]
ServiceQuery = Annotated[str | None, Query(max_length=20)]
Text = Annotated[str, Form(max_length=4000)]
Number = Annotated[str, Form(max_length=20)]


@dataclass(frozen=True)
class Filters:
    """The board's GET filters: a type of service (model) and one service. Anything else in
    them is ignored (a stale bookmark shows the whole board rather than an error)."""

    model: str | None = None
    service_id: int | None = None

    @classmethod
    def parse(cls, model: str | None, service_id: str | None) -> Filters:
        return cls(model if model in MODELS else None, _whole(service_id))

    def query(self, **extra: Any) -> str:
        pairs = {"model": self.model, "service": self.service_id, **extra}
        return urlencode({k: v for k, v in pairs.items() if v is not None})


# -- the page -------------------------------------------------------------------------------------
@router.get("/ic/board", response_class=HTMLResponse)
def ic_board(
    request: Request,
    user: BoardUser,
    db: SessionDep,
    engine: EngineDep,
    model: ModelQuery = None,
    service: ServiceQuery = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    case: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _page(
        request,
        db,
        engine,
        user,
        Filters.parse(model, service),
        done=done if done in DONE else None,
        done_case=_whole(case),
    )


def _page(
    request: Request,
    db: Session,
    engine: Engine,
    user: PageUser,
    filters: Filters,
    *,
    done: str | None = None,
    done_case: int | None = None,
    refusal: Refusal | None = None,
) -> HTMLResponse:
    actor, now = user.actor, utcnow()
    access: AccessPolicy = request.app.state.access
    waiting_grant = access.grant("ic.waiting_list", actor.roles)
    every = ic.list_services(
        db, organisation=actor.organisation, site=None, model=None, active=None
    )
    chosen = next((s for s in every if s.id == filters.service_id), None)
    if refusal is not None and refusal.action in ("start", "move"):
        target = next((s for s in every if str(s.id) == refusal.kept.get("service_id")), None)
        refusal.over_capacity = bool(refusal.kept.get("capacity_override_reason")) or (
            target is not None and target.free == 0
        )
    filters = Filters(filters.model, chosen.id if chosen else None)
    services = board.services_board(
        db,
        organisation=actor.organisation,
        model=filters.model,
        service_id=filters.service_id,
        now=now,
        config=ic_config(request.app.state.settings.pathways_dir / "config"),
    )
    waiting = None
    if waiting_grant is not None:
        waiting = board.waiting_board(
            db,
            config=ic_config(request.app.state.settings.pathways_dir / "config"),
            organisation=actor.organisation,
            # One service chosen: the people waiting for its model.
            planned_model=chosen.model if chosen else filters.model,
            now=now,
        )
    shown = [e.case_id for s in services for e in s.episodes]
    shown += [w.waiting.case_id for w in waiting.items] if waiting else []
    if refusal is not None and refusal.changed and refusal.case_id is not None:
        shown.append(refusal.case_id)  # its changes since are on the page too
    log_read(request, db, actor, shown)
    assert user.grant is not None  # noqa: S101 - page_needs(READ) always gives a grant
    services = [user.grant.reduce(s) for s in services]
    if waiting is not None and waiting_grant is not None:
        waiting = waiting_grant.reduce(waiting)
    several = len({s.site for s in every}) > 1
    return render(
        request,
        "ic_board.html",
        actor=actor,
        page_title="Intermediate care board",
        status_code=refusal.status_code if refusal else 200,
        now=now,
        filters=filters,
        query=filters.query(),
        model_labels=LABELS,
        open_services=_by_model([s for s in every if s.active]),
        startable=[s for s in every if s.active],
        several_sites=several,
        model_items=_choices(
            [(m, ic_view.sentence(LABELS[m])) for m in MODELS], filters.model, "All types"
        ),
        service_items=_choices(
            [
                (str(s.id), ic_view.service_option(s, with_site=several, places=False))
                for s in every
            ],
            str(filters.service_id) if filters.service_id else None,
            "All services",
        ),
        refusal_items=[{"text": t, "href": h} for t, h in refusal.messages] if refusal else [],
        services=services,
        waiting=waiting,
        may=_permissions(engine, actor),
        outcomes=_outcomes(engine),
        done=done,
        done_text=_done_text(done, done_case, services),
        done_case=done_case,
        refusal=refusal,
        view=ic_view,
    )


def _permissions(engine: Engine, actor: Actor) -> dict[str, bool]:
    """Which of the board's forms the person's roles may use (the pathway's roles per event)."""
    loaded = engine.catalogue.latest(WORKFLOW)
    transitions = loaded.spec.transitions if loaded else []

    def may(*triggers: str) -> bool:
        return any(t.trigger in triggers and actor.role_for(t.roles) for t in transitions)

    return {
        "start": may(*(f"start_{m}" for m in MODELS)),
        "move": may("change_service", *(f"move_to_{m}" for m in MODELS)),
        "end": may("end_episode"),
    }


def _outcomes(engine: Engine) -> tuple[str, ...]:
    loaded = engine.catalogue.latest(WORKFLOW)
    return loaded.spec.fields["outcome"].choices if loaded else ()


def _choices(
    pairs: list[tuple[str, str]], selected: str | None, everything: str
) -> list[dict[str, Any]]:
    """Items for an NHS.UK select: "everything" first, then each value with its words."""
    return [{"value": "", "text": everything}] + [
        {"value": value, "text": text, "selected": value == selected} for value, text in pairs
    ]


def _by_model(services: list[ServiceRead]) -> list[tuple[str, list[ServiceRead]]]:
    return [(LABELS[m], [s for s in services if s.model == m]) for m in MODELS]


def _done_text(done: str | None, case_id: int | None, services: list[board.ServiceOnBoard]) -> str:
    """The success banner: who went where, when the episode is on the board."""
    if done is None:
        return ""
    if done in ("started", "moved"):
        for s in services:
            for e in s.episodes:
                if e.case_id == case_id:
                    where = "started in" if done == "started" else "moved to"
                    return f"{ic_view.nhs_number(e.patient_ref)} {where} {s.service.name}."
    return f"The episode was {done}."


# -- the forms ------------------------------------------------------------------------------------
@router.post("/ic/board/start")
def start_episode(
    request: Request,
    user: BoardUser,
    db: SessionDep,
    engine: EngineDep,
    writer: WriterDep,
    settings: SettingsDep,
    case_id: Number,
    version: Number,
    service_id: Number = "",
    capacity_override_reason: Text = "",
    model: ModelQuery = None,
    service: ServiceQuery = None,
) -> Response:
    """Start a waiting episode in one of the organisation's services (`start_<model>`)."""
    kept = {"service_id": service_id, "capacity_override_reason": capacity_override_reason}
    target = _own_service(db, user.actor, service_id)
    data: dict[str, Any] = {}
    if target is not None:
        data["service_id"] = target.id
    if capacity_override_reason.strip():
        data["capacity_override_reason"] = capacity_override_reason.strip()
    event = f"start_{target.model}" if target else None
    return _change(
        request,
        db,
        engine,
        writer,
        settings,
        user,
        Filters.parse(model, service),
        action="start",
        case_id=case_id,
        version=version,
        event=event,
        data=data,
        kept=kept,
    )


@router.post("/ic/board/move")
def move_episode(
    request: Request,
    user: BoardUser,
    db: SessionDep,
    engine: EngineDep,
    writer: WriterDep,
    settings: SettingsDep,
    case_id: Number,
    version: Number,
    from_model: Annotated[str, Form(max_length=40)] = "",
    service_id: Number = "",
    move_reason: Text = "",
    capacity_override_reason: Text = "",
    model: ModelQuery = None,
    service: ServiceQuery = None,
) -> Response:
    """Move an episode to another service: `change_service` within its model, or
    `move_to_<model>` (step up or down between models); the 6-week clock runs on. The model the
    page showed is sent with the version, so a stale page is refused before it matters."""
    kept = {
        "service_id": service_id,
        "move_reason": move_reason,
        "capacity_override_reason": capacity_override_reason,
    }
    target = _own_service(db, user.actor, service_id)
    data: dict[str, Any] = {}
    event = None
    if target is not None:
        data["service_id"] = target.id
        event = "change_service" if target.model == from_model else f"move_to_{target.model}"
    for name, value in (
        ("move_reason", move_reason),
        ("capacity_override_reason", capacity_override_reason),
    ):
        if value.strip():
            data[name] = value.strip()
    return _change(
        request,
        db,
        engine,
        writer,
        settings,
        user,
        Filters.parse(model, service),
        action="move",
        case_id=case_id,
        version=version,
        event=event,
        data=data,
        kept=kept,
    )


@router.post("/ic/board/end")
def end_episode(
    request: Request,
    user: BoardUser,
    db: SessionDep,
    engine: EngineDep,
    writer: WriterDep,
    settings: SettingsDep,
    case_id: Number,
    version: Number,
    outcome: Annotated[str, Form(max_length=40)] = "",
    model: ModelQuery = None,
    service: ServiceQuery = None,
) -> Response:
    """End an episode with its outcome (`end_episode`)."""
    data = {"outcome": outcome} if outcome else {}
    return _change(
        request,
        db,
        engine,
        writer,
        settings,
        user,
        Filters.parse(model, service),
        action="end",
        case_id=case_id,
        version=version,
        event="end_episode",
        data=data,
        kept={"outcome": outcome},
    )


def _own_service(db: Session, actor: Actor, raw: str) -> ServiceRead | None:
    wanted = _whole(raw)
    if wanted is None:
        return None
    every = ic.list_services(
        db, organisation=actor.organisation, site=None, model=None, active=None
    )
    db.rollback()  # end the read: the change runs its own transaction
    return next((s for s in every if s.id == wanted), None)


def _change(
    request: Request,
    db: Session,
    engine: Engine,
    writer: WriterDep,
    settings: SettingsDep,
    user: PageUser,
    filters: Filters,
    *,
    action: Action,
    case_id: str,
    version: str,
    event: str | None,
    data: dict[str, Any],
    kept: dict[str, str],
) -> Response:
    """Fire the event as the API does, then 303 back to the board; a refusal re-renders the
    board with the reasons and what the person typed, with the status the API would give."""
    case, read_version = _whole(case_id), _whole(version)
    verb = VERB[action][0]
    if case is None or read_version is None:
        refusal = Refusal(
            action,
            case,
            422,
            f"The episode could not be {VERB[action][1]}",
            [("The form was incomplete: reload the board and try again.", "#board-title")],
        )
        return _page(request, db, engine, user, filters, refusal=refusal)
    if event is None:
        refusal = Refusal(
            action,
            case,
            422,
            f"The episode could not be {VERB[action][1]}",
            [
                (
                    f"Choose one of your organisation's services to {verb} the episode in.",
                    f"#{action}-service-{case}",
                )
            ],
            kept,
        )
        return _page(request, db, engine, user, filters, refusal=refusal)
    try:
        cases.fire_event(
            db,
            writer=writer,
            actor=user.actor,
            case_id=case,
            body=EventCreate(event=event, data=data),
            if_match=f'"{read_version}"',
            idempotency_key=None,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
            visible_to=user.actor.organisation,
        )
    except DomainError as exc:
        db.rollback()
        refusal = refusal_for(db, action, case, read_version, exc, kept)
        return _page(request, db, engine, user, filters, refusal=refusal)
    return RedirectResponse(
        f"/ic/board?{filters.query(done=VERB[action][1], case=case)}", status_code=303
    )


def _whole(raw: str | None) -> int | None:
    """A positive database id from a form or query, or None."""
    if raw is None or not raw.strip().isdigit():
        return None
    value = int(raw.strip())
    return value if 0 < value <= MAX_ID else None
